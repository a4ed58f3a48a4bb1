package reconcile

import (
	"strings"
	"testing"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

type escCase struct {
	key     string
	change  baseline.ChangeKind // default modified
	attrs   []string
	verdict Verdict
	class   ticket.Class
	level   int
	rule    string
}

func checkLevels(t *testing.T, rules Rules, tests []escCase) {
	t.Helper()
	for _, tt := range tests {
		change := tt.change
		if change == "" {
			change = baseline.Modified
		}
		it := Item{Key: tt.key, Change: change, Attrs: tt.attrs}
		level, rule := rules.Level(&it, tt.verdict, tt.class)
		if level != tt.level || rule != tt.rule {
			t.Errorf("%s %s %v %s (%s): level %d by %q, want %d by %q", tt.key, change, tt.attrs, tt.verdict, tt.class, level, rule, tt.level, tt.rule)
		}
	}
}

// TestDefaultEscalation checks the default rules on the changes they are
// about.
func TestDefaultEscalation(t *testing.T) {
	rules, err := CompileRules(policy.DefaultEscalation())
	if err != nil {
		t.Fatal(err)
	}
	checkLevels(t, rules, []escCase{
		// Security configuration: full escalation without authorization.
		{key: "file:/etc/ssh/sshd_config", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/ssh/sshd_config.d/50-cloud.conf", verdict: Frozen, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/sudoers", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/sudoers.d/deploy", change: baseline.Added, verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/pam.d/common-auth", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/shadow", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/passwd", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/group", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/audit/rules.d/audit.rules", change: baseline.Removed, verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "command:iptables-save", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "command:nft-list-ruleset", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/nftables.conf", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/etc/ufw/user.rules", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "user:mallory", change: baseline.Added, verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		{key: "file:/home/deploy/.ssh/authorized_keys", verdict: Unauthorized, level: 3, rule: policy.RuleSecurity},
		// … escalated internally when a ticket covers them but does not
		// authorize them, and logged when authorized.
		{key: "file:/etc/ssh/sshd_config", verdict: OutOfWindow, level: 2, rule: policy.RuleSecurityTicketed},
		{key: "file:/etc/sudoers", verdict: UnapprovedTicket, level: 2, rule: policy.RuleSecurityTicketed},
		{key: "file:/etc/ssh/sshd_config", verdict: Authorized, class: ticket.Normal, level: 1, rule: policy.RuleAuthorized},
		// Packages and services.
		{key: "package:openssl", verdict: Unauthorized, level: 2, rule: policy.RulePackagesServices},
		{key: "package:openssl", verdict: OutOfWindow, level: 2, rule: policy.RulePackagesServices},
		{key: "service:nginx", change: baseline.Removed, verdict: UnapprovedTicket, level: 2, rule: policy.RulePackagesServices},
		{key: "service:nginx", verdict: Frozen, level: 2, rule: policy.RulePackagesServices},
		{key: "package:openssl", verdict: Authorized, level: 1, rule: policy.RuleAuthorized},
		// Everything else.
		{key: "file:/etc/hosts", verdict: Unauthorized, level: 1, rule: policy.RuleOther},
		{key: "sysctl:vm.swappiness", verdict: OutOfWindow, level: 1, rule: policy.RuleOther},
		{key: "file:/etc/hosts", verdict: Frozen, level: 2, rule: policy.RuleFreeze},
		{key: "port:tcp/8080", change: baseline.Added, verdict: Authorized, level: 1, rule: policy.RuleAuthorized},
	})
}

// TestTenantRules checks that a tenant's rules come first, each criterion
// narrows, and the defaults follow.
func TestTenantRules(t *testing.T) {
	pol, err := policy.Parse([]byte(`
escalation "database-config" {
  items    = ["file:/etc/postgresql/**"]
  verdicts = ["unauthorized", "out_of_window"]
  level    = 3
}
escalation "permissions" {
  items    = ["file:/etc/**"]
  attrs    = ["mode", "owner"]
  changes  = ["modified"]
  verdicts = ["unauthorized"]
  level    = 2
}
escalation "emergency-review" {
  classes  = ["emergency"]
  verdicts = ["authorized"]
  level    = 2
}
`), "acme.hcl")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := CompileRules(pol.Rules())
	if err != nil {
		t.Fatal(err)
	}
	checkLevels(t, rules, []escCase{
		{key: "file:/etc/postgresql/16/main/postgresql.conf", verdict: Unauthorized, level: 3, rule: "database-config"},
		{key: "file:/etc/postgresql/16/main/postgresql.conf", verdict: OutOfWindow, level: 3, rule: "database-config"},
		{key: "file:/etc/postgresql/16/main/postgresql.conf", verdict: UnapprovedTicket, level: 1, rule: policy.RuleOther},
		{key: "file:/etc/hosts", attrs: []string{"mode"}, verdict: Unauthorized, level: 2, rule: "permissions"},
		{key: "file:/etc/hosts", attrs: []string{"sha256", "size"}, verdict: Unauthorized, level: 1, rule: policy.RuleOther},
		{key: "file:/etc/hosts", change: baseline.Added, attrs: []string{"mode"}, verdict: Unauthorized, level: 1, rule: policy.RuleOther},
		{key: "file:/etc/ssh/sshd_config", attrs: []string{"owner"}, verdict: Unauthorized, level: 2, rule: "permissions"},
		{key: "package:openssl", verdict: Authorized, class: ticket.Emergency, level: 2, rule: "emergency-review"},
		{key: "package:openssl", verdict: Authorized, class: ticket.Normal, level: 1, rule: policy.RuleAuthorized},
		{key: "package:openssl", verdict: Unauthorized, level: 2, rule: policy.RulePackagesServices},
	})

	off, err := policy.Parse([]byte("escalation_defaults = false\n"), "off.hcl")
	if err != nil {
		t.Fatal(err)
	}
	none, err := CompileRules(off.Rules())
	if err != nil {
		t.Fatal(err)
	}
	checkLevels(t, none, []escCase{{key: "file:/etc/shadow", verdict: Unauthorized, level: 1, rule: FallbackRule}})
}

func TestCompileRulesErrors(t *testing.T) {
	for _, tt := range []struct {
		rule policy.EscalationRule
		want string
	}{
		{policy.EscalationRule{Name: "x", Items: []string{"nginx"}, Level: 1}, `escalation rule "x": items[0]: pattern "nginx" has no kind`},
		{policy.EscalationRule{Name: "y", Level: 5}, `escalation rule "y": level 5 is not 1, 2 or 3`},
	} {
		if _, err := CompileRules([]policy.EscalationRule{tt.rule}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileRules = %v, want %q", err, tt.want)
		}
	}
}

// TestResultLevel checks that a judged item carries the level and the rule
// that set it, with the deciding ticket's class.
func TestResultLevel(t *testing.T) {
	pol, err := policy.Parse([]byte("escalation \"emergency-review\" {\n  classes = [\"emergency\"]\n  level = 2\n}\n"), "acme.hcl")
	if err != nil {
		t.Fatal(err)
	}
	e := engine(t, pol,
		tk{id: "t_1", ref: "CHG1", class: ticket.Emergency, state: ticket.Implementing, hosts: []string{"web-01"}, items: []string{"file:/etc/nginx/**"}})
	for _, tt := range []struct {
		item  Item
		level int
		rule  string
	}{
		{item(web01, "file:/etc/nginx/nginx.conf", inWindow), 2, "emergency-review"},
		{item(web01, "file:/etc/sudoers", inWindow), 3, policy.RuleSecurity},
		{item(web02, "file:/etc/nginx/nginx.conf", inWindow), 1, policy.RuleOther},
	} {
		r := e.Evaluate(tt.item)
		if r.Level != tt.level || r.Rule != tt.rule {
			t.Errorf("%s on %s (%s): level %d by %q, want %d by %q", tt.item.Key, tt.item.Host.Name, r.Verdict, r.Level, r.Rule, tt.level, tt.rule)
		}
	}
}
