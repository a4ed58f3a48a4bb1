package policy

import (
	"fmt"
	"os"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// DiagnosticsError carries HCL diagnostics and the files they point into;
// see hclconf.DiagnosticsError.
type DiagnosticsError = hclconf.DiagnosticsError

// file is a policy file as written, before validation. Attributes left
// out keep their Default values.
type file struct {
	DefaultTimeZone    *string            `hcl:"default_time_zone,optional"`
	Approvers          []string           `hcl:"approvers,optional"`
	CustomerApproval   *bool              `hcl:"customer_approval,optional"`
	Grace              *string            `hcl:"grace,optional"`
	AutoPromote        *bool              `hcl:"auto_promote,optional"`
	EscalationDefaults *bool              `hcl:"escalation_defaults,optional"`
	Freezes            []*freezeBlock     `hcl:"freeze,block"`
	DeploymentWindow   *deploymentBlock   `hcl:"deployment_window,block"`
	Escalations        []*escalationBlock `hcl:"escalation,block"`
}

type freezeBlock struct {
	Name     string  `hcl:"name,label"`
	Start    string  `hcl:"start"`
	End      string  `hcl:"end"`
	TimeZone *string `hcl:"time_zone,optional"`
	Reason   string  `hcl:"reason"`
}

type deploymentBlock struct {
	Before *string `hcl:"before,optional"`
	After  *string `hcl:"after,optional"`
}

type escalationBlock struct {
	Name        string   `hcl:"name,label"`
	Description string   `hcl:"description,optional"`
	Items       []string `hcl:"items,optional"`
	Changes     []string `hcl:"changes,optional"`
	Attrs       []string `hcl:"attrs,optional"`
	Classes     []string `hcl:"classes,optional"`
	Verdicts    []string `hcl:"verdicts,optional"`
	Level       int      `hcl:"level"`
}

// Load reads and validates the policy file at path.
func Load(path string) (Policy, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy %s: %w", path, err)
	}
	return Parse(src, path)
}

// Parse reads a policy file held in memory, starting from Default;
// filename names it in messages. Every problem with the file comes back in
// one *DiagnosticsError, each at its file:line:col: unknown blocks and
// attributes, wrong types, and bad durations, times, time zones, email
// addresses, patterns and names.
func Parse(src []byte, filename string) (Policy, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return Policy{}, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	var raw file
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, &raw)...)
	if diags.HasErrors() {
		return Policy{}, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	pol, more := fromFile(&raw, f.Body)
	diags = append(diags, more...)
	if diags.HasErrors() {
		return Policy{}, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	return pol, nil
}

// fromFile builds the policy from the decoded file and validates it,
// placing each problem at the attribute, list element or block label it is
// about.
func fromFile(raw *file, root hcl.Body) (Policy, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	pol := Default()
	if raw.DefaultTimeZone != nil {
		pol.DefaultTimeZone = *raw.DefaultTimeZone
	}
	pol.Approvers = raw.Approvers
	if raw.CustomerApproval != nil {
		pol.CustomerApproval = *raw.CustomerApproval
	}
	if raw.AutoPromote != nil {
		pol.AutoPromote = *raw.AutoPromote
	}
	if raw.EscalationDefaults != nil {
		pol.EscalationDefaults = *raw.EscalationDefaults
	}
	if raw.Grace != nil {
		d, err := hclconf.ParseDuration(*raw.Grace)
		if err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "grace"), "Invalid duration", err.Error()+"."))
		}
		pol.Grace = Duration(d)
	}
	if b := raw.DeploymentWindow; b != nil {
		w := &DeploymentWindow{Before: Duration(DefaultDeploymentBefore), After: Duration(DefaultDeploymentAfter)}
		var body hcl.Body = root
		if sb, ok := root.(*hclsyntax.Body); ok {
			for _, blk := range sb.Blocks {
				if blk.Type == "deployment_window" {
					body = blk.Body
				}
			}
		}
		for _, side := range []struct {
			name string
			v    *string
			dst  *Duration
		}{{"before", b.Before, &w.Before}, {"after", b.After, &w.After}} {
			if side.v == nil {
				continue
			}
			d, err := hclconf.ParseDuration(*side.v)
			if err != nil {
				diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(body, side.name), "Invalid duration", err.Error()+"."))
			}
			*side.dst = Duration(d)
		}
		pol.DeploymentWindow = w
	}
	for _, b := range raw.Freezes {
		tz := pol.DefaultTimeZone
		if b.TimeZone != nil {
			tz = *b.TimeZone
		}
		pol.Freezes = append(pol.Freezes, Freeze{Name: b.Name, Window: Window{Start: b.Start, End: b.End, TimeZone: tz}, Reason: b.Reason})
	}
	for _, b := range raw.Escalations {
		pol.Escalation = append(pol.Escalation, EscalationRule{
			Name: b.Name, Description: b.Description, Items: b.Items, Changes: b.Changes,
			Attrs: b.Attrs, Classes: b.Classes, Verdicts: b.Verdicts, Level: b.Level,
		})
	}
	if diags.HasErrors() {
		return pol, diags
	}
	blocks := map[string][]*hclsyntax.Block{}
	if sb, ok := root.(*hclsyntax.Body); ok {
		for _, b := range sb.Blocks {
			blocks[b.Type] = append(blocks[b.Type], b)
		}
	}
	_, zoneErr := LoadZone(pol.DefaultTimeZone)
	for _, pr := range pol.problems() {
		var i int
		if n, _ := fmt.Sscanf(pr.Field, "freezes[%d].time_zone", &i); n == 1 && zoneErr != nil && raw.Freezes[i].TimeZone == nil {
			continue // the freeze inherits default_time_zone, reported already
		}
		rng := problemRange(pr.Field, root, blocks)
		diags = append(diags, hclconf.ErrAt(rng, summary(pr.Field), pr.Message+"."))
	}
	return pol, diags
}

// fieldPath splits a problem's JSON path: "freezes[1].end" into the
// section "freezes", the block index 1 and the rest "end"; "approvers[2]"
// into "approvers", 2 and "".
var fieldPath = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+)(?:\[(\d+)\])?)?$`)

// blockTypes maps a JSON section to its HCL block type.
var blockTypes = map[string]string{"freezes": "freeze", "escalation": "escalation", "deployment_window": "deployment_window"}

// problemRange finds where in the file a problem is, from its JSON path.
func problemRange(field string, root hcl.Body, blocks map[string][]*hclsyntax.Block) *hcl.Range {
	m := fieldPath.FindStringSubmatch(field)
	if m == nil {
		return hclconf.BlockRange(root)
	}
	section, index, attr, elem := m[1], m[2], m[3], m[4]
	typ, isBlock := blockTypes[section]
	if !isBlock {
		if index != "" {
			i, _ := strconv.Atoi(index)
			return hclconf.ElemRange(root, section, i)
		}
		return hclconf.AttrRange(root, section)
	}
	i, _ := strconv.Atoi(index)
	bs := blocks[typ]
	if i >= len(bs) {
		return hclconf.BlockRange(root)
	}
	b := bs[i]
	switch {
	case attr == "name" && len(b.LabelRanges) > 0:
		r := b.LabelRanges[0]
		return &r
	case elem != "":
		j, _ := strconv.Atoi(elem)
		return hclconf.ElemRange(b.Body, attr, j)
	case attr != "":
		if _, ok := b.Body.Attributes[attr]; !ok {
			r := b.DefRange()
			return &r
		}
		return hclconf.AttrRange(b.Body, attr)
	}
	r := b.DefRange()
	return &r
}

// summary names the kind of problem after the field it is in.
func summary(field string) string {
	m := fieldPath.FindStringSubmatch(field)
	if m == nil {
		return "Invalid policy"
	}
	name := m[1]
	if m[3] != "" {
		name = m[3]
	}
	switch name {
	case "time_zone", "default_time_zone":
		return "Invalid time zone"
	case "start", "end":
		return "Invalid time"
	case "grace", "before", "after":
		return "Invalid duration"
	case "items":
		return "Invalid pattern"
	case "approvers":
		return "Invalid email address"
	}
	return "Invalid " + name
}
