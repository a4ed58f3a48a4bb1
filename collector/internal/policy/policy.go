package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// Defaults of a tenant policy (see Default).
const (
	DefaultTimeZone = "UTC"
	DefaultGrace    = 30 * time.Minute
	// MaxGrace bounds the grace period: a longer one would make planned
	// windows meaningless.
	MaxGrace = 7 * 24 * time.Hour
)

// Names an escalation rule may match on. Package ticket defines the classes
// and package reconcile the verdicts; their tests keep these lists in step.
var (
	// ClassNames are the change ticket classes.
	ClassNames = []string{"standard", "normal", "emergency"}
	// VerdictNames are the reconciliation verdicts.
	VerdictNames = []string{"authorized", "frozen", "unapproved_ticket", "out_of_window", "unauthorized"}
	// ChangeNames are the ways an item can change (baseline.ChangeKind).
	ChangeNames = []string{"added", "removed", "modified"}
)

// Policy is one tenant's change policy: who approves, how much slack a
// planned window has, when nothing may change, and how drift escalates.
// Its JSON form is what the store keeps and the API serves.
type Policy struct {
	// DefaultTimeZone is the IANA zone for windows and freeze periods
	// written without one.
	DefaultTimeZone string `json:"default_time_zone"`
	// Approvers are the email addresses of the tenant's people whose
	// approval counts as the customer's. Empty: any approver or admin of
	// the tenant.
	Approvers []string `json:"approvers,omitempty"`
	// CustomerApproval requires, for a ticket the customer raised (origin
	// customer), the customer's approval besides the MSP's before the
	// ticket is approved.
	CustomerApproval bool `json:"customer_approval"`
	// Grace widens every ticket's window by this much on both sides when
	// drift is reconciled: clocks differ and snapshots come at intervals.
	Grace Duration `json:"grace"`
	// AutoPromote makes drift that an implemented ticket authorizes the
	// host's new baseline without a separate approval.
	AutoPromote bool `json:"auto_promote"`
	// Freezes are periods in which no change is authorized, even with an
	// approved ticket, unless the ticket is an emergency change.
	Freezes []Freeze `json:"freezes,omitempty"`
	// Escalation are the tenant's own escalation rules, tried in order
	// before the defaults (see Rules).
	Escalation []EscalationRule `json:"escalation,omitempty"`
	// EscalationDefaults appends DefaultEscalation to the tenant's rules.
	EscalationDefaults bool `json:"escalation_defaults"`
	// DeploymentWindow bounds the drift a CI deployment of an approved
	// ticket authorizes on its hosts; nil: 10 minutes before to 30
	// minutes after the deployment.
	DeploymentWindow *DeploymentWindow `json:"deployment_window,omitempty"`
}

// DeploymentWindow is how long before and after a CI deployment the drift
// on its hosts is taken to be the deployment's: each from 0 to
// MaxDeploymentWindow.
type DeploymentWindow struct {
	Before Duration `json:"before"`
	After  Duration `json:"after"`
}

// The deployment window: its default sides, and the bound of each.
const (
	DefaultDeploymentBefore = 10 * time.Minute
	DefaultDeploymentAfter  = 30 * time.Minute
	MaxDeploymentWindow     = 24 * time.Hour
)

// Freeze is a period in which no change is authorized except emergency
// changes: a year-end freeze, a customer's peak season.
type Freeze struct {
	// Name identifies the freeze in verdicts and reports.
	Name string `json:"name"`
	// Window is when the freeze holds.
	Window
	// Reason says why, shown with every change made in the freeze.
	Reason string `json:"reason"`
}

// EscalationRule gives drift items that match it an escalation level.
// Every criterion that is set must hold; within one criterion any listed
// value will do; an empty criterion matches everything.
type EscalationRule struct {
	// Name identifies the rule; each drift item records which rule set its
	// level.
	Name string `json:"name"`
	// Description says what the rule is for, for people.
	Description string `json:"description,omitempty"`
	// Items are item patterns (see package pattern) the item's key must
	// match one of.
	Items []string `json:"items,omitempty"`
	// Changes are the change kinds (added, removed, modified) to match.
	Changes []string `json:"changes,omitempty"`
	// Attrs match when any of these attributes changed ("mode", "owner",
	// "sha256", "version" …).
	Attrs []string `json:"attrs,omitempty"`
	// Classes match the class of the ticket that decided the verdict; an
	// item no ticket decided has no class and matches no rule that sets
	// Classes.
	Classes []string `json:"classes,omitempty"`
	// Verdicts match the item's verdict.
	Verdicts []string `json:"verdicts,omitempty"`
	// Level is 1 (log it), 2 (escalate internally) or 3 (full escalation).
	Level int `json:"level"`
}

// Default is the policy of a tenant that has not written one: times in
// UTC, customer approval required for customer changes, a 30 minute grace,
// auto-promotion on, no freezes and the default escalation rules.
func Default() Policy {
	return Policy{
		DefaultTimeZone:    DefaultTimeZone,
		CustomerApproval:   true,
		Grace:              Duration(DefaultGrace),
		AutoPromote:        true,
		EscalationDefaults: true,
	}
}

// SecurityItems are the items whose unauthorized change is a full
// escalation by default: authentication, sudo, SSH, PAM, accounts, firewall
// and audit configuration.
var SecurityItems = []string{
	"file:/etc/ssh/**",
	"file:/etc/sudoers",
	"file:/etc/sudoers.d/**",
	"file:/etc/pam.d/**",
	"file:/etc/security/**",
	"file:/etc/login.defs",
	"file:/etc/shadow",
	"file:/etc/gshadow",
	"file:/etc/passwd",
	"file:/etc/group",
	"file:/root/.ssh/**",
	"file:**/.ssh/authorized_keys",
	"file:/etc/audit/**",
	"command:iptables-save",
	"command:ip6tables-save",
	"command:nft*",
	"file:/etc/nftables.conf",
	"file:/etc/iptables/**",
	"file:/etc/ufw/**",
	"file:/etc/firewalld/**",
	"user:*",
	"group:*",
}

// Names of the default escalation rules, in the order they are tried.
const (
	RuleAuthorized       = "authorized"
	RuleSecurity         = "security-unauthorized"
	RuleSecurityTicketed = "security-ticket-mismatch"
	RulePackagesServices = "packages-services"
	RuleFreeze           = "freeze-violation"
	RuleOther            = "other-changes"
)

// DefaultEscalation returns the default escalation rules, which follow
// common practice: an authorized change is logged only (1); an unauthorized
// change, or one made during a freeze, to authentication, sudo, SSH, PAM,
// account, firewall or audit configuration is a full escalation (3), and
// one with a ticket that is not approved or not in its window is
// escalated internally (2); packages and services that change without
// authorization, and anything changed during a freeze, are escalated
// internally (2); everything else is logged (1).
func DefaultEscalation() []EscalationRule {
	return []EscalationRule{
		{Name: RuleAuthorized, Description: "Changes an approved ticket covers are logged only.",
			Verdicts: []string{"authorized"}, Level: 1},
		{Name: RuleSecurity, Description: "Authentication, sudo, SSH, PAM, account, firewall and audit configuration changed without a ticket or during a freeze.",
			Items: slices.Clone(SecurityItems), Verdicts: []string{"unauthorized", "frozen"}, Level: 3},
		{Name: RuleSecurityTicketed, Description: "Security configuration changed under a ticket that is not approved or outside its window.",
			Items: slices.Clone(SecurityItems), Verdicts: []string{"unapproved_ticket", "out_of_window"}, Level: 2},
		{Name: RulePackagesServices, Description: "Packages and services changed without authorization.",
			Items: []string{"package:*", "service:*"}, Level: 2},
		{Name: RuleFreeze, Description: "Changes during a freeze period.",
			Verdicts: []string{"frozen"}, Level: 2},
		{Name: RuleOther, Description: "Everything else is logged.", Level: 1},
	}
}

// Rules returns the escalation rules in the order they are tried: the
// tenant's own, then the defaults when EscalationDefaults is set. The
// first rule that matches sets an item's level.
func (p *Policy) Rules() []EscalationRule {
	rules := slices.Clone(p.Escalation)
	if p.EscalationDefaults {
		rules = append(rules, DefaultEscalation()...)
	}
	return rules
}

// IsApprover reports whether a customer user with this email may give the
// customer's approval: any when Approvers is empty, else only those listed
// (compared case-insensitively).
func (p *Policy) IsApprover(email string) bool {
	if len(p.Approvers) == 0 {
		return true
	}
	return slices.ContainsFunc(p.Approvers, func(a string) bool { return strings.EqualFold(a, email) })
}

// FreezeAt returns the freeze period that holds at t, if any. Freezes that
// are not valid are skipped; Validate reports them.
func (p *Policy) FreezeAt(t time.Time) (Freeze, bool) {
	for _, f := range p.Freezes {
		start, end, err := f.Bounds()
		if err == nil && !t.Before(start) && t.Before(end) {
			return f, true
		}
	}
	return Freeze{}, false
}

// Validate checks the whole policy; the error is a *ValidationError that
// names every wrong field by its JSON path.
func (p *Policy) Validate() error {
	return Problems(p.problems()).Err("policy")
}

// problems returns every problem, fields named by JSON path.
func (p *Policy) problems() []Problem {
	var ps Problems
	if _, err := LoadZone(p.DefaultTimeZone); err != nil {
		ps.Add("default_time_zone", err.Error())
	}
	for i, a := range p.Approvers {
		if msg := checkEmail(a); msg != "" {
			ps.Add(fmt.Sprintf("approvers[%d]", i), msg)
		}
	}
	if g := time.Duration(p.Grace); g < 0 || g > MaxGrace {
		ps.Add("grace", fmt.Sprintf("%s is not between 0 and %s", p.Grace, Duration(MaxGrace)))
	}
	if w := p.DeploymentWindow; w != nil {
		if w.Before == 0 && w.After == 0 {
			ps.Add("deployment_window", "before and after are both 0: deployments would authorize nothing")
		}
		for side, d := range map[string]Duration{"before": w.Before, "after": w.After} {
			if d < 0 || time.Duration(d) > MaxDeploymentWindow {
				ps.Add("deployment_window."+side, fmt.Sprintf("%s is not between 0 and %s", d, Duration(MaxDeploymentWindow)))
			}
		}
	}
	names := map[string]int{}
	for i, f := range p.Freezes {
		field := fmt.Sprintf("freezes[%d]", i)
		switch j, dup := names[f.Name]; {
		case strings.TrimSpace(f.Name) == "":
			ps.Add(field+".name", "is required")
		case dup:
			ps.Add(field+".name", fmt.Sprintf("%q is also the name of freezes[%d]", f.Name, j))
		default:
			names[f.Name] = i
		}
		ps.AddAll(field, f.Window.Problems())
		if strings.TrimSpace(f.Reason) == "" {
			ps.Add(field+".reason", "is required: it is shown with every change made in the freeze")
		}
	}
	rules := map[string]int{}
	builtin := map[string]bool{}
	for _, r := range DefaultEscalation() {
		builtin[r.Name] = true
	}
	for i, r := range p.Escalation {
		field := fmt.Sprintf("escalation[%d]", i)
		switch j, dup := rules[r.Name]; {
		case strings.TrimSpace(r.Name) == "":
			ps.Add(field+".name", "is required")
		case dup:
			ps.Add(field+".name", fmt.Sprintf("%q is also the name of escalation[%d]", r.Name, j))
		case builtin[r.Name]:
			ps.Add(field+".name", fmt.Sprintf("%q is the name of a default rule; choose another", r.Name))
		default:
			rules[r.Name] = i
		}
		ps.AddAll(field, r.problems())
	}
	return ps
}

// problems checks one rule; fields are relative to the rule.
func (r *EscalationRule) problems() []Problem {
	var ps Problems
	for i, s := range r.Items {
		if _, err := pattern.Compile(s); err != nil {
			ps.Add(fmt.Sprintf("items[%d]", i), err.Error())
		}
	}
	known := func(field string, vals, names []string) {
		for i, v := range vals {
			if !slices.Contains(names, v) {
				ps.Add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("unknown value %q: want one of %s", v, strings.Join(names, ", ")))
			}
		}
	}
	known("changes", r.Changes, ChangeNames)
	known("classes", r.Classes, ClassNames)
	known("verdicts", r.Verdicts, VerdictNames)
	for i, a := range r.Attrs {
		if strings.TrimSpace(a) == "" {
			ps.Add(fmt.Sprintf("attrs[%d]", i), "is empty")
		}
	}
	if r.Level < 1 || r.Level > 3 {
		ps.Add("level", fmt.Sprintf("%d is not a level: want 1 (log), 2 (escalate internally) or 3 (full escalation)", r.Level))
	}
	return ps
}

// checkEmail returns what is wrong with an email address, or "".
func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Sprintf("%q is not an email address such as \"ops@example.com\"", s)
	}
	return ""
}

// CheckEmail returns what is wrong with an email address written bare
// ("ops@example.com"), or "" when nothing is.
func CheckEmail(s string) string { return checkEmail(s) }

// Decode reads a policy from its JSON form, as the API receives it: fields
// left out keep their Default values, unknown fields are refused, and the
// result is validated. Errors name the field.
func Decode(data []byte) (Policy, error) {
	p := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("decode policy: %w", err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("decode policy: data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Duration is a time.Duration written as a string such as "30m", "1h30m"
// or "7d" in HCL and JSON.
type Duration time.Duration

// String returns the shortest form: "30m", "1h30m", "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration such as "30m", "90s" or "7d".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := hclconf.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
