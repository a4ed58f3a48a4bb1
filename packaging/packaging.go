// Package packaging holds what driftwatch installs besides its binaries:
// the systemd unit of the agent (rendered for `driftwatch-agent install`
// and shipped in the packages), the default configurations and the nfpm
// package definitions.
package packaging

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed systemd/driftwatch-agent.service.tmpl
var agentUnitTemplate string

// Default paths of a packaged agent.
const (
	AgentExec     = "/usr/bin/driftwatch-agent"
	AgentConfig   = "/etc/driftwatch/agent.hcl"
	AgentStateDir = "/var/lib/driftwatch"
)

// AgentUnit is what the agent's systemd unit is made from.
type AgentUnit struct {
	// Exec is the absolute path of the driftwatch-agent binary.
	Exec string
	// Config is the absolute path of the agent config.
	Config string
	// StateDir is the agent's state directory, the one path it may write.
	StateDir string
}

// DefaultAgentUnit is the unit of a packaged agent.
var DefaultAgentUnit = AgentUnit{Exec: AgentExec, Config: AgentConfig, StateDir: AgentStateDir}

var agentUnit = template.Must(template.New("driftwatch-agent.service").Option("missingkey=error").Parse(agentUnitTemplate))

// Render returns the unit file. Each path must be absolute and free of
// whitespace, quotes, backslashes, '%' and control characters, which a
// unit file would read differently.
func (u AgentUnit) Render() ([]byte, error) {
	for _, p := range []struct{ name, v string }{{"binary", u.Exec}, {"config", u.Config}, {"state directory", u.StateDir}} {
		if !strings.HasPrefix(p.v, "/") {
			return nil, fmt.Errorf("systemd unit: %s path %q is not absolute", p.name, p.v)
		}
		if i := strings.IndexFunc(p.v, func(r rune) bool {
			return r <= ' ' || r == 0x7f || r == '"' || r == '\'' || r == '\\' || r == '%' || r == '$'
		}); i >= 0 {
			return nil, fmt.Errorf("systemd unit: %s path %q has %q, which a unit file cannot hold as is", p.name, p.v, p.v[i])
		}
	}
	var b bytes.Buffer
	if err := agentUnit.Execute(&b, u); err != nil {
		return nil, fmt.Errorf("systemd unit: %w", err)
	}
	return b.Bytes(), nil
}
