package reconcile

import (
	"fmt"
	"slices"

	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile/pattern"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// FallbackRule is the rule a drift item records when no escalation rule
// matches it; its level is 1.
const FallbackRule = "fallback"

// Rules are compiled escalation rules, tried in order; the first that
// matches sets the level. A compiled Rules is safe for concurrent use.
type Rules struct {
	rules []rule
}

type rule struct {
	name     string
	items    pattern.Set
	changes  []string
	attrs    []string
	classes  []string
	verdicts []string
	level    int
}

// CompileRules compiles escalation rules, in order. The error names the
// first bad rule; a policy that passed Validate compiles.
func CompileRules(rules []policy.EscalationRule) (Rules, error) {
	out := Rules{rules: make([]rule, 0, len(rules))}
	for _, r := range rules {
		items, err := pattern.CompileSet(r.Items)
		if err != nil {
			return Rules{}, fmt.Errorf("escalation rule %q: items%w", r.Name, err)
		}
		if r.Level < 1 || r.Level > 3 {
			return Rules{}, fmt.Errorf("escalation rule %q: level %d is not 1, 2 or 3", r.Name, r.Level)
		}
		out.rules = append(out.rules, rule{
			name: r.Name, items: items, changes: r.Changes, attrs: r.Attrs,
			classes: r.Classes, verdicts: r.Verdicts, level: r.Level,
		})
	}
	return out, nil
}

// Level returns the escalation level of a drift item with the given
// verdict, decided by a ticket of the given class (empty when no ticket
// decided it), and the name of the rule that set it: the first rule whose
// every criterion holds. When none does, the level is 1 and the rule
// FallbackRule.
func (rs Rules) Level(it *Item, v Verdict, class ticket.Class) (int, string) {
	for i := range rs.rules {
		r := &rs.rules[i]
		switch {
		case len(r.verdicts) > 0 && !slices.Contains(r.verdicts, string(v)):
		case len(r.changes) > 0 && !slices.Contains(r.changes, string(it.Change)):
		case len(r.classes) > 0 && (class == "" || !slices.Contains(r.classes, string(class))):
		case len(r.attrs) > 0 && !slices.ContainsFunc(it.Attrs, func(a string) bool { return slices.Contains(r.attrs, a) }):
		case len(r.items) > 0 && r.items.Match(it.Key) == nil:
		default:
			return r.level, r.name
		}
	}
	return 1, FallbackRule
}
