package policy

import (
	"errors"
	"strings"
)

// ErrInvalid is what every *ValidationError matches with errors.Is: the
// input is wrong and sending it again will not help.
var ErrInvalid = errors.New("invalid")

// Problem is one thing wrong with an input, naming the field by its JSON
// path ("window.end", "scope.items[2]", "freezes[0].time_zone").
type Problem struct {
	// Field is the JSON path of the field.
	Field string `json:"field"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
}

// ValidationError lists every problem found in one input, so that a form
// can mark all its wrong fields at once.
type ValidationError struct {
	// What names the input: "ticket CHG0030001", "policy of tenant acme".
	What string `json:"what"`
	// Problems are in field order.
	Problems []Problem `json:"problems"`
}

// Error returns "what: field: message; field: message".
func (e *ValidationError) Error() string {
	var sb strings.Builder
	sb.WriteString(e.What)
	for i, p := range e.Problems {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(p.Field)
		sb.WriteString(": ")
		sb.WriteString(p.Message)
	}
	return sb.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Problems collects problems under a field prefix.
type Problems []Problem

// Add records a problem with field.
func (ps *Problems) Add(field, message string) {
	*ps = append(*ps, Problem{Field: field, Message: message})
}

// AddAll records problems found in a part of the input, prefixing each
// field with prefix and a dot.
func (ps *Problems) AddAll(prefix string, probs []Problem) {
	for _, p := range probs {
		ps.Add(prefix+"."+p.Field, p.Message)
	}
}

// Err returns a *ValidationError naming what, or nil when there are no
// problems.
func (ps Problems) Err(what string) error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{What: what, Problems: ps}
}
