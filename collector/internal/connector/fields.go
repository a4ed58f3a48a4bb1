package connector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// object is a decoded JSON object.
type object = map[string]any

// lookup follows a dotted path into nested objects; nil when absent. A
// key that itself holds dots is found before its parts are tried.
func lookup(o object, path string) any {
	if path == "" || o == nil {
		return nil
	}
	if v, ok := o[path]; ok {
		return v
	}
	head, rest, ok := strings.Cut(path, ".")
	if !ok {
		return nil
	}
	sub, _ := o[head].(object)
	return lookup(sub, rest)
}

// text returns a JSON value as text: strings as they are, numbers and
// booleans formatted, objects by their "display_value", "value", "name",
// "displayName" or "text" member (in that order), Atlassian documents
// flattened to their text, lists joined by newlines.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := text(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "\n")
	case object:
		if t, _ := x["type"].(string); t == "doc" {
			return strings.TrimSpace(adfText(x))
		}
		for _, k := range []string{"display_value", "value", "name", "displayName", "text"} {
			if s, ok := x[k]; ok {
				return text(s)
			}
		}
	}
	return ""
}

// value returns a ServiceNow field's raw value: the "value" member of a
// {display_value, value} pair, else the text.
func value(v any) string {
	if o, ok := v.(object); ok {
		if s, ok := o["value"]; ok {
			return text(s)
		}
	}
	return text(v)
}

// list returns a JSON value as a list of strings: a list's elements, or a
// text split by lines, commas and semicolons.
func list(v any) []string {
	if xs, ok := v.([]any); ok {
		var out []string
		for _, e := range xs {
			if s := strings.TrimSpace(text(e)); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return splitList(text(v))
}

// adfText flattens an Atlassian Document Format node to plain text,
// paragraphs on their own lines.
func adfText(n object) string {
	var b strings.Builder
	var walk func(n object)
	walk = func(n object) {
		if t, ok := n["text"].(string); ok {
			b.WriteString(t)
		}
		if t, _ := n["type"].(string); t == "hardBreak" {
			b.WriteString("\n")
		}
		kids, _ := n["content"].([]any)
		for _, k := range kids {
			if ko, ok := k.(object); ok {
				walk(ko)
			}
		}
		switch n["type"] {
		case "paragraph", "heading", "listItem", "codeBlock":
			b.WriteString("\n")
		}
	}
	walk(n)
	return b.String()
}

// timeLayouts are the time formats the connectors' APIs write.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000-0700", // Jira
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05",           // ServiceNow, in UTC
	"2006-01-02T15:04:05.999999999", // HaloPSA, in UTC
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime reads a time in one of the APIs' formats; one without an
// offset is in loc. Empty text is the zero time.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}
