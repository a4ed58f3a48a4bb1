package server

// The tests in this file hold the server to collector/api/openapi.yaml:
// every route the package registers is documented and every documented
// operation is served; each answers with the credential its security
// names and with statuses and bodies the document gives; the document's
// schemas have the fields of the Go types that are sent, and its examples
// are valid against its schemas, decode into the Go types and are
// accepted by a real collector.
//
// go.mod holds no YAML library, so the document is read with a reader of
// the YAML subset it is written in (block mappings and sequences, plain
// and quoted scalars, flow sequences, literal block scalars). Anything
// outside that subset is an error naming the line, never a silent
// misreading.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/auth"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// Where the API document and the wire types are, relative to this
// package.
const (
	oaDocFile = "../../api/openapi.yaml"
	oaAPIDir  = "../../api"
	oaAPIPkg  = "github.com/driftwatch/driftwatch/collector/api"
)

// ----------------------------------------------------------------------
// The YAML subset.

// yamlKind is what a yamlNode holds.
type yamlKind int

const (
	yamlScalar yamlKind = iota
	yamlMap
	yamlSeq
)

// yamlNode is one node of a YAML document.
type yamlNode struct {
	line  int
	kind  yamlKind
	value any // a scalar: string, int64, float64, bool or nil
	keys  []string
	vals  map[string]*yamlNode
	items []*yamlNode
}

// get follows keys through mappings; nil when one is missing.
func (n *yamlNode) get(keys ...string) *yamlNode {
	for _, k := range keys {
		if n == nil || n.kind != yamlMap {
			return nil
		}
		n = n.vals[k]
	}
	return n
}

// str returns a scalar's string, or "".
func (n *yamlNode) str() string {
	if n == nil || n.kind != yamlScalar {
		return ""
	}
	s, _ := n.value.(string)
	return s
}

// plain converts the node to the values encoding/json produces:
// map[string]any, []any, string, int64, float64, bool and nil.
func (n *yamlNode) plain() any {
	switch n.kind {
	case yamlMap:
		m := make(map[string]any, len(n.keys))
		for _, k := range n.keys {
			m[k] = n.vals[k].plain()
		}
		return m
	case yamlSeq:
		s := make([]any, 0, len(n.items))
		for _, it := range n.items {
			s = append(s, it.plain())
		}
		return s
	}
	return n.value
}

// yamlLine is one line of the document.
type yamlLine struct {
	num    int
	indent int
	text   string // the line without its indentation
	raw    string
}

// yamlParser reads the YAML subset.
type yamlParser struct {
	name  string
	lines []yamlLine
	pos   int
}

// parseYAML reads a document of the YAML subset.
func parseYAML(name string, data []byte) (*yamlNode, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8", name)
	}
	p := &yamlParser{name: name}
	for i, raw := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		raw = strings.TrimRight(raw, "\r")
		text := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(text, "\t") {
			return nil, fmt.Errorf("%s:%d: a tab in the indentation", name, i+1)
		}
		p.lines = append(p.lines, yamlLine{num: i + 1, indent: len(raw) - len(text), text: strings.TrimRight(text, " "), raw: raw})
	}
	root, err := p.block(0)
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.pos < len(p.lines) {
		return nil, p.errorf(p.lines[p.pos].num, "unexpected indentation")
	}
	return root, nil
}

func (p *yamlParser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...))
}

// skip passes blank and comment lines.
func (p *yamlParser) skip() {
	for p.pos < len(p.lines) && (p.lines[p.pos].text == "" || strings.HasPrefix(p.lines[p.pos].text, "#")) {
		p.pos++
	}
}

func yamlSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// block reads the mapping or sequence that starts at the next line, if it
// is indented by at least min; null otherwise.
func (p *yamlParser) block(min int) (*yamlNode, error) {
	p.skip()
	if p.pos >= len(p.lines) || p.lines[p.pos].indent < min {
		line := 0
		if p.pos < len(p.lines) {
			line = p.lines[p.pos].num
		}
		return &yamlNode{line: line, kind: yamlScalar}, nil
	}
	l := p.lines[p.pos]
	if yamlSeqItem(l.text) {
		return p.seq(l.indent)
	}
	return p.mapping(l.indent)
}

func (p *yamlParser) mapping(indent int) (*yamlNode, error) {
	n := &yamlNode{line: p.lines[p.pos].num, kind: yamlMap, vals: map[string]*yamlNode{}}
	for {
		p.skip()
		if p.pos >= len(p.lines) {
			return n, nil
		}
		l := p.lines[p.pos]
		switch {
		case l.indent < indent:
			return n, nil
		case l.indent > indent:
			return nil, p.errorf(l.num, "unexpected indentation")
		case yamlSeqItem(l.text):
			return nil, p.errorf(l.num, "a sequence item where a mapping key was expected")
		}
		key, rest, ok, err := yamlSplitKey(l.text)
		if err != nil {
			return nil, p.errorf(l.num, "%v", err)
		}
		if !ok {
			return nil, p.errorf(l.num, "want \"key: value\", have %q", l.text)
		}
		if _, dup := n.vals[key]; dup {
			return nil, p.errorf(l.num, "key %q appears twice in this mapping", key)
		}
		p.pos++
		v, err := p.value(rest, indent, l.num)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.vals[key] = v
	}
}

func (p *yamlParser) seq(indent int) (*yamlNode, error) {
	n := &yamlNode{line: p.lines[p.pos].num, kind: yamlSeq}
	for {
		p.skip()
		if p.pos >= len(p.lines) {
			return n, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent || (l.indent == indent && !yamlSeqItem(l.text)) {
			return n, nil
		}
		if l.indent > indent {
			return nil, p.errorf(l.num, "unexpected indentation")
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		var item *yamlNode
		var err error
		_, _, isKey, kerr := yamlSplitKey(rest)
		switch {
		case rest == "" || strings.HasPrefix(rest, "#"):
			p.pos++
			item, err = p.block(indent + 1)
		case kerr == nil && isKey, yamlSeqItem(rest):
			// The item is a mapping (or sequence) that starts on this
			// line: read the rest of the line as if it were a line of
			// its own, indented to where it starts.
			p.lines[p.pos].indent = indent + len(l.text) - len(rest)
			p.lines[p.pos].text = rest
			item, err = p.block(p.lines[p.pos].indent)
		default:
			p.pos++
			item, err = p.inline(rest, l.num)
		}
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, item)
	}
}

// value reads the value of a mapping key whose line (at indent) held
// rest after the colon.
func (p *yamlParser) value(rest string, indent, line int) (*yamlNode, error) {
	switch {
	case rest == "" || strings.HasPrefix(rest, "#"):
		p.skip()
		if p.pos < len(p.lines) {
			if next := p.lines[p.pos]; next.indent == indent && yamlSeqItem(next.text) {
				return p.seq(indent)
			}
		}
		return p.block(indent + 1)
	case strings.HasPrefix(rest, "|"):
		return p.literal(rest, indent, line)
	case strings.HasPrefix(rest, ">"):
		return nil, p.errorf(line, "folded block scalars (>) are not supported; use |")
	}
	return p.inline(rest, line)
}

// literal reads a literal block scalar (|, |- or |+).
func (p *yamlParser) literal(header string, indent, line int) (*yamlNode, error) {
	chomp := strings.TrimPrefix(header, "|")
	if chomp != "" && chomp != "-" && chomp != "+" {
		return nil, p.errorf(line, "block scalar header %q is not supported; use |, |- or |+", header)
	}
	var body []string
	blockIndent := -1
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if strings.TrimSpace(l.raw) == "" {
			body = append(body, "")
			p.pos++
			continue
		}
		if l.indent <= indent {
			break
		}
		if blockIndent < 0 {
			blockIndent = l.indent
		}
		if l.indent < blockIndent {
			return nil, p.errorf(l.num, "a block scalar line indented less than its first line")
		}
		body = append(body, l.raw[blockIndent:])
		p.pos++
	}
	// Trailing blank lines belong to the block only with |+; give back
	// the ones read past its end.
	end := len(body)
	for end > 0 && body[end-1] == "" {
		end--
	}
	text := strings.Join(body[:end], "\n")
	switch {
	case chomp == "+":
		text = strings.Join(body, "\n") + "\n"
	case chomp == "" && end > 0:
		text += "\n"
	}
	return &yamlNode{line: line, kind: yamlScalar, value: text}, nil
}

// inline reads a scalar or flow sequence written on one line.
func (p *yamlParser) inline(s string, line int) (*yamlNode, error) {
	v, rest, err := yamlScanScalar(s, "")
	if err != nil {
		return nil, p.errorf(line, "%v", err)
	}
	if rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "#") {
		return nil, p.errorf(line, "unexpected %q after the value", rest)
	}
	if seq, ok := v.([]any); ok {
		n := &yamlNode{line: line, kind: yamlSeq}
		for _, it := range seq {
			n.items = append(n.items, &yamlNode{line: line, kind: yamlScalar, value: it})
		}
		return n, nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return &yamlNode{line: line, kind: yamlMap, vals: map[string]*yamlNode{}}, nil
	}
	return &yamlNode{line: line, kind: yamlScalar, value: v}, nil
}

// yamlSplitKey splits "key: rest" (or "key:"); ok is false when text is not a
// mapping entry.
func yamlSplitKey(text string) (key, rest string, ok bool, err error) {
	if text == "" {
		return "", "", false, nil
	}
	if text[0] == '"' || text[0] == '\'' {
		v, after, err := yamlScanScalar(text, "")
		if err != nil {
			return "", "", false, err
		}
		k, isStr := v.(string)
		if !isStr || !(after == ":" || strings.HasPrefix(after, ": ")) {
			return "", "", false, nil
		}
		return k, strings.TrimSpace(after[1:]), true, nil
	}
	if strings.ContainsRune("[{&*!|>%@`#", rune(text[0])) || yamlSeqItem(text) {
		return "", "", false, nil
	}
	i := strings.Index(text, ": ")
	if i < 0 {
		if !strings.HasSuffix(text, ":") {
			return "", "", false, nil
		}
		i = len(text) - 1
	}
	key = text[:i]
	if strings.Contains(key, " #") {
		return "", "", false, nil
	}
	return key, strings.TrimSpace(text[i+1:]), true, nil
}

var (
	yamlIntRE   = regexp.MustCompile(`^[-+]?[0-9]+$`)
	yamlFloatRE = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

// yamlScanScalar reads one scalar (or flow sequence) at the start of s and
// returns it with what follows. A plain scalar ends at one of stops or at
// a comment.
func yamlScanScalar(s, stops string) (any, string, error) {
	switch {
	case s == "":
		return nil, "", nil
	case s[0] == '"':
		var sb strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '"':
				return sb.String(), s[i+1:], nil
			case '\\':
				if i+1 >= len(s) {
					return nil, "", fmt.Errorf("unfinished escape in %s", s)
				}
				i++
				switch e := s[i]; e {
				case '"', '\\', '/':
					sb.WriteByte(e)
				case 'n':
					sb.WriteByte('\n')
				case 't':
					sb.WriteByte('\t')
				case 'r':
					sb.WriteByte('\r')
				case '0':
					sb.WriteByte(0)
				case 'x', 'u', 'U':
					n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
					if i+n >= len(s) {
						return nil, "", fmt.Errorf("short \\%c escape in %s", e, s)
					}
					r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
					if err != nil {
						return nil, "", fmt.Errorf("bad \\%c escape in %s", e, s)
					}
					sb.WriteRune(rune(r))
					i += n
				default:
					return nil, "", fmt.Errorf("escape \\%c is not supported in %s", e, s)
				}
			default:
				sb.WriteByte(c)
			}
		}
		return nil, "", fmt.Errorf("unterminated double-quoted string %s", s)
	case s[0] == '\'':
		var sb strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '\'' {
				sb.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '\'' {
				sb.WriteByte('\'')
				i++
				continue
			}
			return sb.String(), s[i+1:], nil
		}
		return nil, "", fmt.Errorf("unterminated single-quoted string %s", s)
	case s[0] == '[':
		out := []any{}
		rest := strings.TrimLeft(s[1:], " ")
		if strings.HasPrefix(rest, "]") {
			return out, rest[1:], nil
		}
		for {
			if rest != "" && (rest[0] == '[' || rest[0] == '{') {
				return nil, "", fmt.Errorf("nested flow collections are not supported: %s", s)
			}
			v, after, err := yamlScanScalar(rest, ",]")
			if err != nil {
				return nil, "", err
			}
			out = append(out, v)
			after = strings.TrimLeft(after, " ")
			switch {
			case strings.HasPrefix(after, ","):
				rest = strings.TrimLeft(after[1:], " ")
			case strings.HasPrefix(after, "]"):
				return out, after[1:], nil
			default:
				return nil, "", fmt.Errorf("unterminated flow sequence %s", s)
			}
		}
	case strings.HasPrefix(s, "{}"):
		return map[string]any{}, s[2:], nil
	case strings.ContainsRune("{&*!|>%@`", rune(s[0])):
		return nil, "", fmt.Errorf("%q: anchors, aliases, tags, flow mappings and reserved indicators are not supported", s)
	}
	end := len(s)
	if i := strings.Index(s, " #"); i >= 0 {
		end = i
	}
	if stops != "" {
		if i := strings.IndexAny(s[:end], stops); i >= 0 {
			end = i
		}
	}
	plain := strings.TrimSpace(s[:end])
	if strings.Contains(plain, ": ") || strings.HasSuffix(plain, ":") {
		return nil, "", fmt.Errorf("%q: a colon and a space in a plain scalar; quote it", plain)
	}
	v, err := yamlResolvePlain(plain)
	return v, s[end:], err
}

// yamlResolvePlain gives a plain scalar its type, as YAML 1.2's core schema
// does.
func yamlResolvePlain(s string) (any, error) {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	if yamlIntRE.MatchString(s) {
		digits := strings.TrimLeft(s, "+-")
		if len(digits) > 1 && digits[0] == '0' {
			return nil, fmt.Errorf("%q: a number with a leading zero reads differently in different YAML versions; quote it", s)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		return n, nil
	}
	if yamlFloatRE.MatchString(s) {
		return strconv.ParseFloat(s, 64)
	}
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0o") {
		return nil, fmt.Errorf("%q: special numbers are not supported; quote it", s)
	}
	return s, nil
}

func TestYAMLSubset(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
		err  string // a part of the error; "" for none
	}{
		{name: "scalars", in: "a: 1\nb: -2.5\nc: true\nd: null\ne: text with spaces # comment\nf: \"q: \\\"x\\\" \\u00e9\"\ng: 'it''s'\nh: '0644'\n",
			want: map[string]any{"a": int64(1), "b": -2.5, "c": true, "d": nil, "e": "text with spaces", "f": "q: \"x\" é", "g": "it's", "h": "0644"}},
		{name: "nesting", in: "a:\n  b:\n    c: x\n  d: [p, \"q, r\", 3]\n  e: []\n  f: {}\n",
			want: map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}, "d": []any{"p", "q, r", int64(3)}, "e": []any{}, "f": map[string]any{}}}},
		{name: "sequences", in: "s:\n  - a\n  - k: v\n    l: w\n  -\n    m: 1\n  - - x\n    - y\nt:\n- 1\n- 2\n",
			want: map[string]any{"s": []any{"a", map[string]any{"k": "v", "l": "w"}, map[string]any{"m": int64(1)}, []any{"x", "y"}}, "t": []any{int64(1), int64(2)}}},
		{name: "literal", in: "a: |\n  one\n    two\n\n  # not a comment\n\nb: |-\n  x\nc: |+\n  y\n\nd: 1\n",
			want: map[string]any{"a": "one\n  two\n\n# not a comment\n", "b": "x", "c": "y\n\n", "d": int64(1)}},
		{name: "quoted keys", in: "\"200\":\n  x: 1\n'a b': 2\n", want: map[string]any{"200": map[string]any{"x": int64(1)}, "a b": int64(2)}},
		{name: "urls and keys", in: "a: file:/etc/ssh/**\nb: https://example.com/x\n", want: map[string]any{"a": "file:/etc/ssh/**", "b": "https://example.com/x"}},
		{name: "duplicate key", in: "a: 1\nb: 2\na: 3\n", err: `:3: key "a" appears twice`},
		{name: "bad indentation", in: "a:\n  b: 1\n   c: 2\n", err: ":3: unexpected indentation"},
		{name: "continued plain scalar", in: "a: one\n  two\n", err: ":2: unexpected indentation"},
		{name: "colon in plain scalar", in: "a: b: c\n", err: "a colon and a space in a plain scalar"},
		{name: "leading zero", in: "a: 0644\n", err: "leading zero"},
		{name: "folded", in: "a: >\n  x\n", err: "folded block scalars"},
		{name: "anchor", in: "a: &x 1\n", err: "anchors"},
		{name: "tab", in: "a:\n\tb: 1\n", err: ":2: a tab"},
		{name: "unterminated", in: "a: \"x\n", err: "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseYAML("in.yaml", []byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, n.plain()); diff != "" {
				t.Errorf("parsed (-want +got):\n%s", diff)
			}
		})
	}
}

// ----------------------------------------------------------------------
// The document.

// oaDoc is the parsed API document.
type oaDoc struct {
	root *yamlNode
	ops  []*oaOp
}

// oaOp is one documented operation.
type oaOp struct {
	method string // GET, POST …
	path   string // /api/v1/hosts/{id}/drift
	line   int
	node   *yamlNode
	item   *yamlNode // the path item
	// security names the schemes of the operation's security
	// requirements; empty when it takes none.
	security []string
}

func (op *oaOp) String() string { return op.method + " " + op.path }

var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var oaLoadDoc = sync.OnceValues(func() (*oaDoc, error) {
	data, err := os.ReadFile(oaDocFile)
	if err != nil {
		return nil, err
	}
	root, err := parseYAML("openapi.yaml", data)
	if err != nil {
		return nil, err
	}
	doc := &oaDoc{root: root}
	paths := root.get("paths")
	if paths == nil || paths.kind != yamlMap {
		return nil, fmt.Errorf("openapi.yaml: no paths")
	}
	for _, p := range paths.keys {
		item := paths.vals[p]
		if !strings.HasPrefix(p, "/") || item.kind != yamlMap {
			return nil, fmt.Errorf("openapi.yaml:%d: path %q is not a path item", item.line, p)
		}
		for _, k := range item.keys {
			switch {
			case slices.Contains(oaMethods, k):
				op := &oaOp{method: strings.ToUpper(k), path: p, line: item.vals[k].line, node: item.vals[k], item: item}
				sec := op.node.get("security")
				if sec == nil || sec.kind != yamlSeq {
					return nil, fmt.Errorf("openapi.yaml:%d: %s declares no security (write security: [] for none)", op.line, op)
				}
				for _, req := range sec.items {
					op.security = append(op.security, req.keys...)
				}
				doc.ops = append(doc.ops, op)
			case k == "parameters" || k == "summary" || k == "description" || k == "servers":
			default:
				return nil, fmt.Errorf("openapi.yaml:%d: unknown key %q in path %s", item.vals[k].line, k, p)
			}
		}
	}
	return doc, nil
})

func oaLoad(t *testing.T) *oaDoc {
	t.Helper()
	doc, err := oaLoadDoc()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// ref resolves a local $ref ("#/components/schemas/Host"); nil when it
// does not resolve.
func (d *oaDoc) ref(ref string) *yamlNode {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	n := d.root
	for _, k := range strings.Split(p, "/") {
		k = strings.NewReplacer("~1", "/", "~0", "~").Replace(k)
		if n = n.get(k); n == nil {
			return nil
		}
	}
	return n
}

// deref follows $ref until a node without one.
func (d *oaDoc) deref(n *yamlNode) *yamlNode {
	for i := 0; n != nil && i < 16; i++ {
		r := n.get("$ref")
		if r == nil {
			return n
		}
		n = d.ref(r.str())
	}
	return n
}

// op finds the operation that answers method and a request path.
func (d *oaDoc) op(method, path string) *oaOp {
	segs := strings.Split(path, "/")
	for _, op := range d.ops {
		if op.method != method {
			continue
		}
		tsegs := strings.Split(op.path, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i := range segs {
			if tsegs[i] != segs[i] && !(strings.HasPrefix(tsegs[i], "{") && segs[i] != "") {
				match = false
				break
			}
		}
		if match {
			return op
		}
	}
	return nil
}

// response returns the documented response of op for status: the exact
// code, its range (4XX) or default.
func (d *oaDoc) response(op *oaOp, status int) *yamlNode {
	rs := op.node.get("responses")
	for _, k := range []string{strconv.Itoa(status), fmt.Sprintf("%dXX", status/100), "default"} {
		if r := rs.get(k); r != nil {
			return d.deref(r)
		}
	}
	return nil
}

// params returns the parameters of op, its path item's and its own.
func (d *oaDoc) params(op *oaOp) []*yamlNode {
	var out []*yamlNode
	for _, list := range []*yamlNode{op.item.get("parameters"), op.node.get("parameters")} {
		if list == nil {
			continue
		}
		for _, p := range list.items {
			out = append(out, d.deref(p))
		}
	}
	return out
}

func (d *oaDoc) hasParam(op *oaOp, in, name string) bool {
	return slices.ContainsFunc(d.params(op), func(p *yamlNode) bool {
		return p.get("in").str() == in && p.get("name").str() == name
	})
}

// ----------------------------------------------------------------------
// A small validator of JSON values against the document's schemas.
//
// It knows type, nullable, enum, format date-time, pattern, minimum,
// maximum, required, properties, additionalProperties, items, allOf and
// $ref. An object schema with properties is closed: a property it does
// not name is an error, unless additionalProperties allows it.

// props collects the properties an object schema allows, through $ref
// and allOf, and whether it allows others.
func (d *oaDoc) props(s *yamlNode, props map[string]*yamlNode, required *[]string) (open bool) {
	s = d.deref(s)
	if s == nil {
		return true
	}
	if ps := s.get("properties"); ps != nil {
		for _, k := range ps.keys {
			props[k] = ps.vals[k]
		}
	}
	if req := s.get("required"); req != nil {
		for _, r := range req.items {
			*required = append(*required, r.str())
		}
	}
	if ap := s.get("additionalProperties"); ap != nil && !(ap.kind == yamlScalar && ap.value == false) {
		open = true
	}
	if all := s.get("allOf"); all != nil {
		for _, sub := range all.items {
			if d.props(sub, props, required) {
				open = true
			}
		}
	}
	return open
}

// schemaType returns the type a schema names, through $ref and allOf.
func (d *oaDoc) schemaType(s *yamlNode) string {
	s = d.deref(s)
	if s == nil {
		return ""
	}
	if t := s.get("type").str(); t != "" {
		return t
	}
	if all := s.get("allOf"); all != nil {
		for _, sub := range all.items {
			if t := d.schemaType(sub); t != "" {
				return t
			}
		}
	}
	return ""
}

// validate checks v (as encoding/json decodes it, or as plain() gives
// it) against schema s and returns every problem, each naming where.
func (d *oaDoc) validate(s *yamlNode, v any, at string) []string {
	s = d.deref(s)
	if s == nil {
		return []string{at + ": schema does not resolve"}
	}
	if v == nil {
		if n := s.get("nullable"); n != nil && n.value == true {
			return nil
		}
		if t := d.schemaType(s); t != "" {
			return []string{fmt.Sprintf("%s: null, want %s", at, t)}
		}
		return nil
	}
	var probs []string
	if all := s.get("allOf"); all != nil {
		for _, sub := range all.items {
			sub = d.deref(sub)
			// The members' properties are checked below, together.
			if d.schemaType(sub) != "object" {
				probs = append(probs, d.validate(sub, v, at)...)
			}
		}
	}
	if enum := s.get("enum"); enum != nil {
		if !slices.ContainsFunc(enum.items, func(e *yamlNode) bool { return fmt.Sprint(e.value) == fmt.Sprint(v) }) {
			probs = append(probs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum.plain()))
		}
	}
	switch t := d.schemaType(s); t {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(probs, fmt.Sprintf("%s: %T, want an object", at, v))
		}
		props := map[string]*yamlNode{}
		var required []string
		open := d.props(s, props, &required)
		for _, r := range required {
			if _, ok := m[r]; !ok {
				probs = append(probs, fmt.Sprintf("%s: required property %q is missing", at, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ap := d.deref(s.get("additionalProperties"))
		for _, k := range keys {
			switch ps, ok := props[k]; {
			case ok:
				probs = append(probs, d.validate(ps, m[k], at+"."+k)...)
			case ap != nil && ap.kind == yamlMap && len(ap.keys) > 0:
				probs = append(probs, d.validate(ap, m[k], at+"."+k)...)
			case !open && len(props) > 0:
				probs = append(probs, fmt.Sprintf("%s: property %q is not documented", at, k))
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(probs, fmt.Sprintf("%s: %T, want an array", at, v))
		}
		for i, it := range a {
			probs = append(probs, d.validate(s.get("items"), it, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(probs, fmt.Sprintf("%s: %T %v, want a string", at, v, v))
		}
		if s.get("format").str() == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				probs = append(probs, fmt.Sprintf("%s: %q is not an RFC 3339 time", at, str))
			}
		}
		if pat := s.get("pattern").str(); pat != "" && !regexp.MustCompile(pat).MatchString(str) {
			probs = append(probs, fmt.Sprintf("%s: %q does not match %s", at, str, pat))
		}
	case "integer", "number":
		f, integral, ok := oaNumber(v)
		switch {
		case !ok:
			return append(probs, fmt.Sprintf("%s: %T %v, want a number", at, v, v))
		case t == "integer" && !integral:
			probs = append(probs, fmt.Sprintf("%s: %v is not an integer", at, v))
		}
		if m, ok := oaNumberOf(s.get("minimum")); ok && f < m {
			probs = append(probs, fmt.Sprintf("%s: %v is below the minimum %v", at, v, m))
		}
		if m, ok := oaNumberOf(s.get("maximum")); ok && f > m {
			probs = append(probs, fmt.Sprintf("%s: %v is above the maximum %v", at, v, m))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			probs = append(probs, fmt.Sprintf("%s: %T %v, want a boolean", at, v, v))
		}
	}
	return probs
}

func oaNumber(v any) (f float64, integral, ok bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !strings.ContainsAny(string(x), ".eE"), err == nil
	case int64:
		return float64(x), true, true
	case float64:
		return x, x == math.Trunc(x), true
	}
	return 0, false, false
}

func oaNumberOf(n *yamlNode) (float64, bool) {
	if n == nil {
		return 0, false
	}
	f, _, ok := oaNumber(n.value)
	return f, ok
}

// ----------------------------------------------------------------------
// The routes the package registers.

// oaRoute is one pattern the package registers with Handle or HandleFunc.
type oaRoute struct {
	method string // "" for a pattern without one
	path   string
	pos    string // file:line of the registration
}

// oaMounts are the patterns without a method that hand a subtree to
// another handler whose routes are registered, and checked, one by one.
var oaMounts = map[string]bool{"/api/v1/": true}

// oaConsts returns the string constants of the Go files in dir, by name.
func oaConsts(fset *token.FileSet, dir string) (map[string]ast.Expr, []*ast.File, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	consts := map[string]ast.Expr{}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	return consts, files, nil
}

// oaRegisteredRoutes reads the route patterns from the package's source:
// every Handle and HandleFunc call. A pattern must be a constant
// expression of string literals and constants (of this package or of
// package api), so that no route escapes the check.
func oaRegisteredRoutes() ([]oaRoute, error) {
	fset := token.NewFileSet()
	local, files, err := oaConsts(fset, ".")
	if err != nil {
		return nil, err
	}
	apiConsts, _, err := oaConsts(fset, oaAPIDir)
	if err != nil {
		return nil, err
	}
	var routes []oaRoute
	var problems []string
	for _, f := range files {
		apiName := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == oaAPIPkg {
				apiName = "api"
				if imp.Name != nil {
					apiName = imp.Name.Name
				}
			}
		}
		var eval func(e ast.Expr, depth int) (string, error)
		eval = func(e ast.Expr, depth int) (string, error) {
			if depth > 32 {
				return "", fmt.Errorf("constants nest too deep")
			}
			switch x := e.(type) {
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					return strconv.Unquote(x.Value)
				}
			case *ast.ParenExpr:
				return eval(x.X, depth+1)
			case *ast.BinaryExpr:
				if x.Op == token.ADD {
					a, err := eval(x.X, depth+1)
					if err != nil {
						return "", err
					}
					b, err := eval(x.Y, depth+1)
					return a + b, err
				}
			case *ast.Ident:
				if c, ok := local[x.Name]; ok {
					return eval(c, depth+1)
				}
			case *ast.SelectorExpr:
				if pkg, ok := x.X.(*ast.Ident); ok && pkg.Name == apiName && apiName != "" {
					if c, ok := apiConsts[x.Sel.Name]; ok {
						return eval(c, depth+1)
					}
				}
			}
			return "", fmt.Errorf("%s is not a constant string expression", oaExprString(fset, e))
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) != 2 {
				return true
			}
			pos := fset.Position(call.Pos())
			where := fmt.Sprintf("%s:%d", filepath.Base(pos.Filename), pos.Line)
			pattern, err := eval(call.Args[0], 0)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: route pattern: %v", where, err))
				return true
			}
			r := oaRoute{path: pattern, pos: where}
			if m, p, ok := strings.Cut(pattern, " "); ok && !strings.Contains(m, "/") {
				r.method, r.path = m, strings.TrimSpace(p)
			}
			if !strings.HasPrefix(r.path, "/") {
				problems = append(problems, fmt.Sprintf("%s: route pattern %q names a host; the check reads METHOD /path patterns only", where, pattern))
				return true
			}
			routes = append(routes, r)
			return true
		})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return routes, nil
}

func oaExprString(fset *token.FileSet, e ast.Expr) string {
	pos := fset.Position(e.Pos())
	return fmt.Sprintf("the expression at %s:%d:%d", filepath.Base(pos.Filename), pos.Line, pos.Column)
}

// oaGap is a difference between the routes and the document.
type oaGap struct {
	Kind  string // "undocumented", "unserved" or "no method"
	Route string // METHOD /path
	Where string // file:line of the route, openapi.yaml:line of the operation
}

func (g oaGap) String() string {
	switch g.Kind {
	case "undocumented":
		return fmt.Sprintf("%s: route %s is not documented in collector/api/openapi.yaml", g.Where, g.Route)
	case "unserved":
		return fmt.Sprintf("%s: %s is documented, but the server registers no such route", g.Where, g.Route)
	}
	return fmt.Sprintf("%s: route %q has no method; give it one and document it (or, for a handler that registers its own routes, add it to oaMounts)", g.Where, g.Route)
}

// oaWildcards makes the names of path wildcards not matter.
var oaWildcards = regexp.MustCompile(`\{[^}]*\}`)

func oaRouteKey(method, path string) string {
	return method + " " + oaWildcards.ReplaceAllString(path, "{}")
}

// oaCompareRoutes returns the routes no operation documents, the operations
// no route serves, and the patterns without a method that are no known
// mount, sorted.
func oaCompareRoutes(routes []oaRoute, ops []*oaOp) []oaGap {
	var gaps []oaGap
	documented := map[string]bool{}
	for _, op := range ops {
		documented[oaRouteKey(op.method, op.path)] = true
	}
	served := map[string]bool{}
	for _, r := range routes {
		if r.method == "" {
			if !oaMounts[r.path] {
				gaps = append(gaps, oaGap{Kind: "no method", Route: r.path, Where: r.pos})
			}
			continue
		}
		k := oaRouteKey(r.method, r.path)
		served[k] = true
		if !documented[k] {
			gaps = append(gaps, oaGap{Kind: "undocumented", Route: r.method + " " + r.path, Where: r.pos})
		}
	}
	for _, op := range ops {
		if !served[oaRouteKey(op.method, op.path)] {
			gaps = append(gaps, oaGap{Kind: "unserved", Route: op.String(), Where: fmt.Sprintf("openapi.yaml:%d", op.line)})
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].String() < gaps[j].String() })
	return gaps
}

// TestOpenAPIRoutes checks that every route the server registers is
// documented and every documented operation has a route, and that the
// check finds a route left out of the document, a route added to the
// server, and a mount it does not know.
func TestOpenAPIRoutes(t *testing.T) {
	doc := oaLoad(t)
	routes, err := oaRegisteredRoutes()
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < len(doc.ops) {
		t.Fatalf("read %d routes from the source and %d operations from the document; the source reader misses routes", len(routes), len(doc.ops))
	}
	type testCase struct {
		name   string
		routes []oaRoute
		ops    []*oaOp
		want   []oaGap
	}
	tests := []testCase{{name: "the server and its document", routes: routes, ops: doc.ops}}
	// The other cases start from the routes and operations that agree, so
	// that they show what the check finds whatever the state of the
	// server and its document.
	documented, served := map[string]*oaOp{}, map[string]oaRoute{}
	for _, op := range doc.ops {
		documented[oaRouteKey(op.method, op.path)] = op
	}
	var agreeRoutes []oaRoute
	for _, r := range routes {
		if documented[oaRouteKey(r.method, r.path)] != nil || (r.method == "" && oaMounts[r.path]) {
			agreeRoutes = append(agreeRoutes, r)
			served[oaRouteKey(r.method, r.path)] = r
		}
	}
	agreeOps := slices.DeleteFunc(slices.Clone(doc.ops), func(op *oaOp) bool {
		_, ok := served[oaRouteKey(op.method, op.path)]
		return !ok
	})
	if len(agreeOps) == 0 {
		t.Fatal("no documented operation has a route")
	}
	// Each operation once missing from the document: its route must be
	// reported.
	for i, op := range agreeOps {
		r := served[oaRouteKey(op.method, op.path)]
		tests = append(tests, testCase{
			name:   "document without " + op.String(),
			routes: agreeRoutes,
			ops:    slices.Delete(slices.Clone(agreeOps), i, i+1),
			want:   []oaGap{{Kind: "undocumented", Route: r.method + " " + r.path, Where: r.pos}},
		})
	}
	last := agreeOps[len(agreeOps)-1]
	tests = append(tests,
		testCase{
			name:   "a route added without documentation",
			routes: append(slices.Clone(agreeRoutes), oaRoute{method: "PATCH", path: "/api/v1/tickets/{id}/undocumented", pos: "tickets.go:99"}),
			ops:    agreeOps,
			want:   []oaGap{{Kind: "undocumented", Route: "PATCH /api/v1/tickets/{id}/undocumented", Where: "tickets.go:99"}},
		},
		testCase{
			name: "a documented route the server dropped",
			routes: slices.DeleteFunc(slices.Clone(agreeRoutes), func(r oaRoute) bool {
				return oaRouteKey(r.method, r.path) == oaRouteKey(last.method, last.path)
			}),
			ops:  agreeOps,
			want: []oaGap{{Kind: "unserved", Route: last.String(), Where: fmt.Sprintf("openapi.yaml:%d", last.line)}},
		},
		testCase{
			name:   "a mount the check does not know",
			routes: append(slices.Clone(agreeRoutes), oaRoute{path: "/debug/pprof/", pos: "server.go:1"}),
			ops:    agreeOps,
			want:   []oaGap{{Kind: "no method", Route: "/debug/pprof/", Where: "server.go:1"}},
		},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := oaCompareRoutes(tt.routes, tt.ops)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				var msgs []string
				for _, g := range got {
					msgs = append(msgs, g.String())
				}
				t.Errorf("gaps (-want +got):\n%s\n%s", diff, strings.Join(msgs, "\n"))
			}
		})
	}
}

// ----------------------------------------------------------------------
// Probing a real server.

// oaServer is a collector over a real SQLite store, called in process.
type oaServer struct {
	t       *testing.T
	doc     *oaDoc
	st      *sqlite.Store
	handler http.Handler
	mu      sync.Mutex
	now     time.Time
	// exercised records the operations that answered 2xx.
	exercised map[string]bool
}

func oaNewServer(t *testing.T) *oaServer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "collector.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &oaServer{t: t, doc: oaLoad(t), st: st, now: time.Date(2025, 3, 12, 5, 0, 0, 0, time.UTC), exercised: map[string]bool{}}
	s.handler = New(Options{Store: st, Log: zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)), Now: s.clock}).Handler()
	return s
}

// clock advances a second with every reading, so that what the server
// records is ordered and the same on every run.
func (s *oaServer) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(time.Second)
	return s.now
}

// oaAnswer is an answer of the server.
type oaAnswer struct {
	status int
	header http.Header
	body   []byte
}

// errorOf decodes an Error body.
func (a oaAnswer) errorOf() api.Error {
	var e api.Error
	_ = json.Unmarshal(a.body, &e) // a body that is not an Error gives a zero one, which fails the caller's check
	return e
}

// send sends a request without checking the answer against the
// document.
func (s *oaServer) send(method, path, cred string, body []byte, hdr map[string]string) oaAnswer {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set(api.ProtocolHeader, api.ProtocolVersion)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return oaAnswer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// do sends a request and checks the answer against the document: the
// status is one the operation documents, and the body is of the
// documented media type and valid against the documented schema.
func (s *oaServer) do(method, path, cred string, body any, hdr map[string]string) oaAnswer {
	s.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			s.t.Fatal(err)
		}
	}
	a := s.send(method, path, cred, raw, hdr)
	u, err := url.Parse(path)
	if err != nil {
		s.t.Fatal(err)
	}
	op := s.doc.op(method, u.Path)
	if op == nil {
		s.t.Errorf("%s %s: no documented operation", method, u.Path)
		return a
	}
	for _, p := range s.doc.checkAnswer(op, a) {
		s.t.Errorf("%s %s: answer %d %s: %s", method, path, a.status, oaShort(a.body), p)
	}
	if a.status/100 == 2 {
		s.exercised[op.String()] = true
	}
	return a
}

func oaShort(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// checkAnswer returns what in an answer the document does not say.
func (d *oaDoc) checkAnswer(op *oaOp, a oaAnswer) []string {
	resp := d.response(op, a.status)
	if resp == nil {
		return []string{fmt.Sprintf("status %d is not documented for %s (openapi.yaml:%d)", a.status, op, op.line)}
	}
	content := resp.get("content")
	if content == nil || len(content.keys) == 0 {
		if len(a.body) > 0 {
			return []string{"a body where the document says there is none"}
		}
		return nil
	}
	if op.method == http.MethodHead {
		return nil
	}
	mt, _, err := mime.ParseMediaType(a.header.Get("Content-Type"))
	if err != nil {
		return []string{fmt.Sprintf("Content-Type %q: %v", a.header.Get("Content-Type"), err)}
	}
	media := content.get(mt)
	if media == nil {
		return []string{fmt.Sprintf("Content-Type %s; the document gives %v", mt, content.keys)}
	}
	if mt != "application/json" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("body is not JSON: %v", err)}
	}
	return d.validate(media.get("schema"), v, "body")
}

// TestOpenAPIOperationsAreServed sends each documented operation a
// request without credentials and checks that its route answers it, not
// the mux's "no such API path" or "method not allowed": a secured
// operation with 401 and a challenge, an open one otherwise, each with a
// documented status and body.
func TestOpenAPIOperationsAreServed(t *testing.T) {
	s := oaNewServer(t)
	// The check itself: unknown paths and methods are the mux's.
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/no-such-thing"},
		{http.MethodDelete, api.PathPolicy},
		{http.MethodPost, api.PathHealth},
	} {
		if a := s.send(probe.method, probe.path, "", nil, nil); !oaAnsweredByMux(a) {
			t.Errorf("%s %s: %d %s is not recognized as the mux's answer", probe.method, probe.path, a.status, a.body)
		}
	}
	for _, op := range s.doc.ops {
		t.Run(op.String(), func(t *testing.T) {
			path := oaFillPath(op.path)
			var body []byte
			if op.method == http.MethodPost || op.method == http.MethodPut {
				body = []byte("{}")
			}
			a := s.send(op.method, path, "", body, nil)
			if oaAnsweredByMux(a) {
				t.Fatalf("%s %s is answered by the mux, not by a route: %d %s", op.method, path, a.status, a.body)
			}
			for _, p := range s.doc.checkAnswer(op, a) {
				t.Errorf("answer %d %s: %s", a.status, oaShort(a.body), p)
			}
			switch {
			case len(op.security) > 0 && a.status != http.StatusUnauthorized:
				t.Errorf("without a credential: %d %s, want 401: the document says it takes %v", a.status, oaShort(a.body), op.security)
			case len(op.security) > 0:
				if got := a.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("401 without the challenge WWW-Authenticate: Bearer (%q)", got)
				}
				if op.method != http.MethodHead {
					if e := a.errorOf(); e.Error != errUnauthenticated.Error() {
						t.Errorf("401 says %q, want %q", e.Error, errUnauthenticated)
					}
				}
			case a.status == http.StatusUnauthorized:
				t.Errorf("401 without a credential, but the document says the operation takes none")
			}
		})
	}
}

// oaAnsweredByMux reports whether an answer is the mux's: no route for the
// path, or none for the method. Routes answer requests without a
// credential with 401, 400 or 2xx, never 404 or 405.
func oaAnsweredByMux(a oaAnswer) bool {
	return a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed
}

// oaFillPath puts sample values in a path template's wildcards.
func oaFillPath(path string) string {
	return oaWildcards.ReplaceAllStringFunc(path, func(w string) string {
		if w == "{sha256}" {
			return baseline.Sum([]byte("probe")).String()
		}
		return "probe-" + strings.Trim(w, "{}")
	})
}

// oaTenant is a tenant with an enrolled host and users of every kind.
type oaTenant struct {
	id, name string
	hostID   string
	hostCred string
	users    map[string]string // by email: the API token
	msp      map[string]bool   // emails of MSP-wide users
}

// user creates a user and returns its API token; tenantID "" makes an
// MSP-wide user.
func (s *oaServer) user(tenantID, email, role string) string {
	s.t.Helper()
	secret, hash, err := auth.NewSecret(auth.PrefixUserToken)
	if err != nil {
		s.t.Fatal(err)
	}
	id, err := auth.NewID(auth.PrefixUserID)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.st.CreateUser(context.Background(), store.User{ID: id, TenantID: tenantID, Email: email, Role: role, TokenHash: hash, CreatedAt: s.clock()}); err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// enrollToken creates an enrollment token of the tenant.
func (s *oaServer) enrollToken(tenantID string) string {
	s.t.Helper()
	secret, hash, err := auth.NewSecret(auth.PrefixEnrollToken)
	if err != nil {
		s.t.Fatal(err)
	}
	id, err := auth.NewID(auth.PrefixTokenID)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.st.CreateToken(context.Background(), store.Token{ID: id, TenantID: tenantID, Hash: hash, UsesLeft: 5, CreatedAt: s.clock()}); err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// tenant creates the tenant "acme", enrolls web01.example.com through the
// API and creates its users: MSP-wide alice and erik (engineers), bob
// (approver) and root (admin), and the tenant's dave (viewer).
func (s *oaServer) tenant() *oaTenant {
	s.t.Helper()
	ctx := context.Background()
	id, err := auth.NewID(auth.PrefixTenantID)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.st.CreateTenant(ctx, id, "acme", s.clock()); err != nil {
		s.t.Fatal(err)
	}
	tn := &oaTenant{id: id, name: "acme", users: map[string]string{}, msp: map[string]bool{}}
	for _, u := range []struct{ email, role string }{
		{"alice@msp.example", store.RoleEngineer}, {"erik@msp.example", store.RoleEngineer},
		{"bob@msp.example", store.RoleApprover}, {"root@msp.example", store.RoleAdmin},
	} {
		tn.users[u.email] = s.user("", u.email, u.role)
		tn.msp[u.email] = true
	}
	tn.users["dave@acme.example"] = s.user(id, "dave@acme.example", store.RoleViewer)
	a := s.do(http.MethodPost, api.PathEnroll, "", api.EnrollRequest{Token: s.enrollToken(id),
		Host: baseline.Host{Name: "web01.example.com", Labels: map[string]string{"role": "web", "env": "prod"}}, AgentVersion: "1.4.2"}, nil)
	if a.status != http.StatusOK {
		s.t.Fatalf("enroll: %d %s", a.status, a.body)
	}
	var enr api.EnrollResponse
	if err := json.Unmarshal(a.body, &enr); err != nil {
		s.t.Fatal(err)
	}
	tn.hostID, tn.hostCred = enr.HostID, enr.Credential
	return tn
}

// as returns the token of a user and the path with ?tenant= added for an
// MSP-wide one.
func (tn *oaTenant) as(email, path string) (string, string) {
	tok, ok := tn.users[email]
	if !ok {
		panic("no user " + email)
	}
	if tn.msp[email] {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "tenant=" + tn.name
	}
	return tok, path
}

// TestOpenAPICredentials checks that each operation takes the credential
// its security names and no other, and that every operation that takes an
// API token documents ?tenant and answers an MSP-wide user who leaves it
// out with 400 on the field tenant.
func TestOpenAPICredentials(t *testing.T) {
	s := oaNewServer(t)
	tn := s.tenant()
	viewer := tn.users["dave@acme.example"]
	mspUser := tn.users["alice@msp.example"]
	for _, op := range s.doc.ops {
		if len(op.security) == 0 {
			continue
		}
		t.Run(op.String(), func(t *testing.T) {
			path := oaFillPath(op.path)
			var body []byte
			if op.method == http.MethodPost || op.method == http.MethodPut {
				body = []byte("{}")
			}
			host := slices.Contains(op.security, "agentCredential")
			user := slices.Contains(op.security, "apiToken")
			for _, c := range []struct {
				kind, cred, wantErr string
				takes               bool
			}{
				{"host credential", tn.hostCred, "this request needs a user API token (Authorization: Bearer dwu_…)", host},
				{"user API token", viewer, "this request needs a host credential (Authorization: Bearer dwh_…)", user},
			} {
				a := s.send(op.method, path, c.cred, body, nil)
				for _, p := range s.doc.checkAnswer(op, a) {
					t.Errorf("with a %s: answer %d %s: %s", c.kind, a.status, oaShort(a.body), p)
				}
				switch {
				case c.takes && a.status == http.StatusUnauthorized:
					t.Errorf("with a %s: 401 %s, but the document says the operation takes one", c.kind, oaShort(a.body))
				case !c.takes && a.status != http.StatusUnauthorized:
					t.Errorf("with a %s: %d %s, want 401: the document says it takes %v only", c.kind, a.status, oaShort(a.body), op.security)
				case !c.takes && host != user && op.method != http.MethodHead && a.errorOf().Error != c.wantErr:
					// An operation that takes one kind names the kind.
					t.Errorf("with a %s: %q, want %q", c.kind, a.errorOf().Error, c.wantErr)
				}
			}
			if !user {
				return
			}
			if !s.doc.hasParam(op, "query", "tenant") {
				t.Errorf("takes an API token but does not document the query parameter tenant")
			}
			a := s.send(op.method, path, mspUser, body, nil)
			for _, p := range s.doc.checkAnswer(op, a) {
				t.Errorf("MSP-wide user without ?tenant: answer %d %s: %s", a.status, oaShort(a.body), p)
			}
			if e := a.errorOf(); a.status != http.StatusBadRequest || e.Field != "tenant" {
				t.Errorf("MSP-wide user without ?tenant: %d %s, want 400 with field tenant", a.status, oaShort(a.body))
			}
			if a := s.send(op.method, path+"?tenant=acne", mspUser, body, nil); a.status != http.StatusBadRequest || a.errorOf().Field != "tenant" {
				t.Errorf("MSP-wide user with an unknown ?tenant: %d %s, want 400 with field tenant", a.status, oaShort(a.body))
			}
		})
	}
}

// ----------------------------------------------------------------------
// The document's own consistency.

// TestOpenAPIReferences checks that every $ref resolves, that every
// component is used, and that every operation is complete: a unique
// operationId, a summary, known tags, responses, and a declared path
// parameter for each wildcard.
func TestOpenAPIReferences(t *testing.T) {
	doc := oaLoad(t)
	used := map[string]bool{}
	var walk func(n *yamlNode, at string)
	walk = func(n *yamlNode, at string) {
		switch n.kind {
		case yamlMap:
			for _, k := range n.keys {
				c := n.vals[k]
				if k == "$ref" {
					if doc.ref(c.str()) == nil {
						t.Errorf("openapi.yaml:%d: $ref %q does not resolve", c.line, c.str())
					}
					used[c.str()] = true
				}
				walk(c, at+"/"+k)
			}
		case yamlSeq:
			for _, it := range n.items {
				walk(it, at)
			}
		}
	}
	walk(doc.root, "")
	comps := doc.root.get("components")
	for _, section := range comps.keys {
		if section == "securitySchemes" {
			continue
		}
		for _, name := range comps.vals[section].keys {
			if ref := "#/components/" + section + "/" + name; !used[ref] {
				t.Errorf("openapi.yaml:%d: %s is not used", comps.vals[section].vals[name].line, ref)
			}
		}
	}
	tags := map[string]bool{}
	for _, tg := range doc.root.get("tags").items {
		tags[tg.get("name").str()] = true
	}
	schemes := doc.root.get("components", "securitySchemes")
	ids := map[string]string{}
	for _, op := range doc.ops {
		id := op.node.get("operationId").str()
		switch {
		case id == "":
			t.Errorf("openapi.yaml:%d: %s has no operationId", op.line, op)
		case ids[id] != "":
			t.Errorf("openapi.yaml:%d: %s has the operationId %q of %s", op.line, op, id, ids[id])
		}
		ids[id] = op.String()
		if op.node.get("summary").str() == "" || op.node.get("description").str() == "" {
			t.Errorf("openapi.yaml:%d: %s needs a summary and a description", op.line, op)
		}
		opTags := op.node.get("tags")
		if opTags == nil || len(opTags.items) == 0 {
			t.Errorf("openapi.yaml:%d: %s has no tag", op.line, op)
		} else {
			for _, tg := range opTags.items {
				if !tags[tg.str()] {
					t.Errorf("openapi.yaml:%d: %s has the tag %q, which the document does not declare", op.line, op, tg.str())
				}
			}
		}
		for _, sch := range op.security {
			if schemes.get(sch) == nil {
				t.Errorf("openapi.yaml:%d: %s names the security scheme %q, which is not declared", op.line, op, sch)
			}
		}
		if rs := op.node.get("responses"); rs == nil || len(rs.keys) == 0 {
			t.Errorf("openapi.yaml:%d: %s documents no responses", op.line, op)
		}
		for _, w := range oaWildcards.FindAllString(op.path, -1) {
			if !doc.hasParam(op, "path", strings.Trim(w, "{}")) {
				t.Errorf("openapi.yaml:%d: %s does not declare the path parameter %s", op.line, op, w)
			}
		}
		if strings.HasPrefix(op.path, "/api/") && !doc.hasParam(op, "header", api.ProtocolHeader) {
			t.Errorf("openapi.yaml:%d: %s does not declare the %s header", op.line, op, api.ProtocolHeader)
		}
	}
	if v := doc.root.get("info", "version").str(); v != api.ProtocolVersion {
		t.Errorf("info.version is %q; the protocol version is %q", v, api.ProtocolVersion)
	}
	if !strings.Contains(doc.root.get("info", "description").str(), "**"+api.ProtocolVersion+"**") {
		t.Errorf("the version history in info.description has no entry for %s", api.ProtocolVersion)
	}
}

// oaSchemaTypes are the Go types each schema of the document describes;
// nil for a schema of a scalar.
var oaSchemaTypes = map[string]any{
	"Digest":              nil,
	"Duration":            nil,
	"Role":                nil,
	"TicketState":         nil,
	"Verdict":             nil,
	"DriftStatus":         nil,
	"Error":               api.Error{},
	"HostIdentity":        baseline.Host{},
	"EnrollRequest":       api.EnrollRequest{},
	"EnrollResponse":      api.EnrollResponse{},
	"Report":              api.Report{},
	"ReportResponse":      api.ReportResponse{},
	"PackageTransaction":  api.PackageTransaction{},
	"PackageChange":       api.PackageChange{},
	"PackageRule":         ticket.PackageRule{},
	"Host":                api.Host{},
	"HostDrift":           api.HostDrift{},
	"Meta":                baseline.Meta{},
	"Baseline":            api.Baseline{},
	"ApproveRequest":      api.ApproveRequest{},
	"SourceStatus":        baseline.SourceStatus{},
	"Summary":             baseline.Summary{},
	"Drift":               baseline.Drift{},
	"AttrChange":          baseline.AttrChange{},
	"Change":              baseline.Change{},
	"Item":                baseline.Item{},
	"Heartbeat":           api.Heartbeat{},
	"AgentStatus":         api.AgentStatus{},
	"SpoolStatus":         api.SpoolStatus{},
	"WatchStatus":         api.WatchStatus{},
	"HeartbeatResponse":   api.HeartbeatResponse{},
	"Event":               api.Event{},
	"EventBatch":          api.EventBatch{},
	"EventsResponse":      api.EventsResponse{},
	"HostStatus":          api.HostStatus{},
	"Actor":               ticket.Actor{},
	"TicketScope":         ticket.Scope{},
	"Window":              policy.Window{},
	"TicketQuestions":     ticket.Questions{},
	"TicketSpec":          ticket.Spec{},
	"Signoff":             ticket.Signoff{},
	"Approval":            ticket.Approval{},
	"Transition":          ticket.Transition{},
	"Ticket":              ticket.Ticket{},
	"TicketView":          ticketView{},
	"TicketPage":          nil, // an anonymous struct of handleTickets; checked on live answers
	"TicketAction":        api.TicketAction{},
	"Policy":              policy.Policy{},
	"Freeze":              policy.Freeze{},
	"EscalationRule":      policy.EscalationRule{},
	"DriftItem":           api.DriftItem{},
	"DriftEvent":          api.DriftEvent{},
	"DriftPage":           api.DriftPage{},
	"DriftDecision":       api.DriftDecision{},
	"DriftDecisionResult": api.DriftDecisionResult{},
	"HostBaselineVersion": api.HostBaselineVersion{},
	"AuditEntry":          api.AuditEntry{},
	"AuditVerification":   api.AuditVerification{},
	"ChangeMetrics":       reconcile.Metrics{},
	"LevelCounts":         reconcile.Levels{},
	"DeploymentRequest":   api.DeploymentRequest{},
	"DeploymentHost":      api.DeploymentHost{},
	"Deployment":          api.Deployment{},
	"DeploymentPage":      api.DeploymentPage{},

	// Change-source connectors (1.3).
	"Connector":            api.Connector{},
	"ConnectorMapping":     api.ConnectorMapping{},
	"ConnectorCredentials": api.ConnectorCredentials{},
	"ConnectorStatus":      api.ConnectorStatus{},
	"ConnectorReject":      api.ConnectorReject{},
	"ConnectorList":        api.ConnectorList{},

	// Tenants' notification settings (1.3).
	"NotifySettings": api.NotifySettings{},
	"TenantNotify":   api.TenantNotify{},
}

// oaJSONFields returns the names of the JSON fields a value of type t can
// have: those of a value with every field set (strings not valid UTF-8,
// so that the exact forms of baseline.Item appear too), as it marshals,
// custom marshalers included.
func oaJSONFields(t reflect.Type) (map[string]bool, error) {
	v := reflect.New(t).Elem()
	oaFill(v, 0)
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	fields := make(map[string]bool, len(m))
	for k := range m {
		fields[k] = true
	}
	return fields, nil
}

// oaOmitted returns the JSON names of the fields of a struct type that
// encoding/json leaves out when empty (omitempty, omitzero), embedded
// structs inlined; none for a type with its own MarshalJSON.
func oaOmitted(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	if t.Implements(reflect.TypeFor[json.Marshaler]()) {
		return out
	}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case name == "-" || (!f.IsExported() && !f.Anonymous):
			case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
				walk(ft)
			case strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,"):
				if name == "" {
					name = f.Name
				}
				out[name] = true
			}
		}
	}
	walk(t)
	return out
}

var (
	oaTimeType = reflect.TypeOf(time.Time{})
	oaRawType  = reflect.TypeOf(json.RawMessage(nil))
)

// oaFill sets every field of v, recursively, to a value that is not zero.
func oaFill(v reflect.Value, depth int) {
	if depth > 8 || !v.CanSet() {
		return
	}
	switch {
	case v.Type() == oaTimeType:
		v.Set(reflect.ValueOf(time.Date(2025, 3, 12, 6, 0, 0, 0, time.UTC)))
		return
	case v.Type() == oaRawType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"x":1}`)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x\xff")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			oaFill(v.Index(i), depth+1)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		oaFill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		oaFill(k, depth+1)
		oaFill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		oaFill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			oaFill(v.Field(i), depth+1)
		}
	}
}

// TestOpenAPISchemasMatchGoTypes checks that each object schema documents
// exactly the JSON fields of the Go type it describes, so that a field
// added to a wire type without documentation, or documented under
// another name, is found.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := oaLoad(t)
	schemas := doc.root.get("components", "schemas")
	for _, name := range schemas.keys {
		if _, ok := oaSchemaTypes[name]; !ok {
			t.Errorf("openapi.yaml:%d: schema %s has no Go type in oaSchemaTypes", schemas.vals[name].line, name)
		}
	}
	for name, v := range oaSchemaTypes {
		s := schemas.get(name)
		if s == nil {
			t.Errorf("oaSchemaTypes names %s, which openapi.yaml does not define", name)
			continue
		}
		if v == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			props := map[string]*yamlNode{}
			var required []string
			doc.props(s, props, &required)
			documented := map[string]bool{}
			for p := range props {
				documented[p] = true
			}
			fields, err := oaJSONFields(reflect.TypeOf(v))
			if err != nil {
				t.Fatalf("marshal a %T: %v", v, err)
			}
			if diff := cmp.Diff(fields, documented); diff != "" {
				t.Errorf("openapi.yaml:%d: the properties of %s are not the JSON fields of %T (-Go +document):\n%s", s.line, name, v, diff)
			}
			omitted := oaOmitted(reflect.TypeOf(v))
			for _, r := range required {
				switch {
				case !documented[r]:
					t.Errorf("openapi.yaml:%d: %s requires %q, which it does not define", s.line, name, r)
				case omitted[r]:
					t.Errorf("openapi.yaml:%d: %s requires %q, but %T leaves it out when empty (omitempty)", s.line, name, r, v)
				}
			}
		})
	}
}

// oaExample is one example in the document and the schema it shows.
type oaExample struct {
	where  string
	schema *yamlNode
	value  any
}

// examples returns every example of the document: of media types
// (request bodies and responses) and parameters, against their schema,
// and of schemas and their properties, against the schema itself. The
// entries of components/examples are checked where they are used.
func (d *oaDoc) examples() []oaExample {
	var out []oaExample
	add := func(ex *yamlNode, name string, schema *yamlNode) {
		where := fmt.Sprintf("openapi.yaml:%d", ex.line)
		if name != "" {
			where += " (" + name + ")"
		}
		out = append(out, oaExample{where: where, schema: schema, value: ex.plain()})
	}
	var walk func(n *yamlNode)
	walk = func(n *yamlNode) {
		switch n.kind {
		case yamlSeq:
			for _, it := range n.items {
				walk(it)
			}
			return
		case yamlScalar:
			return
		}
		if schema := n.get("schema"); schema != nil {
			if ex := n.get("example"); ex != nil {
				add(ex, "", schema)
			}
			if exs := n.get("examples"); exs != nil {
				for _, k := range exs.keys {
					if v := d.deref(exs.vals[k]).get("value"); v != nil {
						add(v, k, schema)
					}
				}
			}
		} else if ex := n.get("example"); ex != nil && (n.get("type") != nil || n.get("allOf") != nil || n.get("$ref") != nil) {
			// A schema with an example of its own: check it against the
			// schema without the example.
			s := &yamlNode{line: n.line, kind: yamlMap, vals: map[string]*yamlNode{}}
			for _, k := range n.keys {
				if k != "example" {
					s.keys = append(s.keys, k)
					s.vals[k] = n.vals[k]
				}
			}
			add(ex, "", s)
		}
		for _, k := range n.keys {
			if k != "example" && k != "examples" {
				walk(n.vals[k])
			}
		}
	}
	walk(d.root.get("paths"))
	comps := d.root.get("components")
	for _, k := range comps.keys {
		if k != "examples" {
			walk(comps.vals[k])
		}
	}
	return out
}

// TestOpenAPIExamples checks every example against its schema, and
// decodes each example of a schema with a Go type into that type,
// refusing unknown fields, so that an example shows what the collector
// really reads and writes.
func TestOpenAPIExamples(t *testing.T) {
	doc := oaLoad(t)
	var exs []oaExample
	seen := map[string]bool{}
	for _, ex := range doc.examples() {
		// An example of components/examples used in several places is
		// checked once per schema.
		if k := fmt.Sprintf("%s %p", ex.where, ex.schema); !seen[k] {
			seen[k] = true
			exs = append(exs, ex)
		}
	}
	if len(exs) < 50 {
		t.Fatalf("found %d examples; the example reader misses some", len(exs))
	}
	decoded := 0
	for _, ex := range exs {
		for _, p := range doc.validate(ex.schema, ex.value, "example") {
			t.Errorf("%s: %s", ex.where, p)
		}
		ref := ex.schema.get("$ref").str()
		array := false
		if ex.schema.get("type").str() == "array" {
			ref, array = ex.schema.get("items", "$ref").str(), true
		}
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if !ok || oaSchemaTypes[name] == nil {
			continue
		}
		typ := reflect.TypeOf(oaSchemaTypes[name])
		if array {
			typ = reflect.SliceOf(typ)
		}
		data, err := json.Marshal(ex.value)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(typ).Interface()); err != nil {
			t.Errorf("%s: the example does not decode into %s: %v", ex.where, typ, err)
		}
		if name == "Policy" {
			if _, err := policy.Decode(data); err != nil {
				t.Errorf("%s: the collector refuses the example policy: %v", ex.where, err)
			}
		}
		decoded++
	}
	if decoded < 20 {
		t.Errorf("decoded %d examples into Go types; the example reader misses some", decoded)
	}
}

// ----------------------------------------------------------------------
// The document's examples against a real collector.

// mediaExample returns the example of a media type: its example, or the
// named one of its examples.
func (d *oaDoc) mediaExample(t *testing.T, media *yamlNode, name string) []byte {
	t.Helper()
	var v any
	if name == "" {
		ex := media.get("example")
		if ex == nil {
			t.Fatalf("openapi.yaml:%d: no example", media.line)
		}
		v = ex.plain()
	} else {
		ex := d.deref(media.get("examples", name))
		if ex == nil {
			t.Fatalf("openapi.yaml:%d: no example %q", media.line, name)
		}
		v = ex.get("value").plain()
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requestExample returns the example request body of an operation.
func (s *oaServer) requestExample(method, path, name string) []byte {
	s.t.Helper()
	op := s.doc.op(method, path)
	if op == nil {
		s.t.Fatalf("%s %s is not documented", method, path)
	}
	media := op.node.get("requestBody", "content", "application/json")
	if media == nil {
		s.t.Fatalf("%s has no JSON request body", op)
	}
	return s.doc.mediaExample(s.t, media, name)
}

// TestOpenAPIAgainstCollector drives a real collector through the whole
// API with the document's own request examples: an agent enrolls,
// uploads content, reports and sends heartbeats and events; people set
// the policy, raise a ticket and take it through review and approval,
// decide on drift and read hosts, tickets, drift, the audit log and
// metrics. Every answer must have a documented status and a body valid
// against the documented schema, and every operation must have answered
// with success at least once.
func TestOpenAPIAgainstCollector(t *testing.T) {
	s := oaNewServer(t)
	tn := s.tenant()
	want := func(a oaAnswer, status int, what string) {
		t.Helper()
		if a.status != status {
			t.Fatalf("%s: %d %s, want %d", what, a.status, oaShort(a.body), status)
		}
	}
	decode := func(a oaAnswer, v any) {
		t.Helper()
		if err := json.Unmarshal(a.body, v); err != nil {
			t.Fatalf("decode %s: %v", oaShort(a.body), err)
		}
	}
	agent := tn.hostCred
	hostPath := api.PathHosts + "/" + tn.hostID

	// Operations without credentials.
	for _, p := range []string{api.PathHealth, api.PathReady, api.PathMetrics} {
		want(s.do(http.MethodGet, p, "", nil, nil), http.StatusOK, p)
	}

	// An agent: content, a first report (baseline v1), a report with
	// drift, a heartbeat and events, all from the document's examples
	// where it has them.
	sshd := []byte("PermitRootLogin no\n")
	sshdItem := baseline.Item{Key: "file:/etc/ssh/sshd_config", Source: "files.etc", Attrs: baseline.AttrsFromMap(map[string]string{"mode": "0644", "owner": "root"}),
		Digest: baseline.Sum(sshd), Content: baseline.Sum(sshd)}
	item := func(key, mode string) baseline.Item {
		return baseline.Item{Key: key, Source: "files.etc", Attrs: baseline.AttrsFromMap(map[string]string{"mode": mode, "owner": "root"})}
	}
	taken := time.Date(2025, 3, 12, 4, 0, 0, 0, time.UTC)
	first := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web01.example.com"}, TakenAt: taken,
		Items: []baseline.Item{item("file:/etc/motd", "0644"), sshdItem}}
	changed := sshdItem
	changed.Attrs = baseline.AttrsFromMap(map[string]string{"mode": "0600", "owner": "root"})
	second := &baseline.Snapshot{Format: baseline.FormatVersion, Host: baseline.Host{Name: "web01.example.com"}, TakenAt: taken.Add(time.Hour),
		Items: []baseline.Item{item("file:/etc/issue", "0644"), changed}}
	blob := baseline.Sum(sshd).String()
	want(s.do(http.MethodHead, api.PathBlobs+blob, agent, nil, nil), http.StatusNotFound, "HEAD blob before the upload")
	want(s.do(http.MethodPut, api.PathBlobs+blob, agent, sshd, map[string]string{"Content-Type": "application/octet-stream"}), http.StatusCreated, "PUT blob")
	want(s.do(http.MethodHead, api.PathBlobs+blob, agent, nil, nil), http.StatusNoContent, "HEAD blob")
	enc, err := first.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sources := []baseline.SourceStatus{{Name: "files.etc", Kind: "file", Status: baseline.StatusOK, Items: 2, Took: 3 * time.Millisecond}}
	want(s.do(http.MethodPost, api.PathReports, agent, api.Report{Sequence: 1, SnapshotDigest: first.Digest(), ItemCount: 2, TakenAt: taken,
		AgentVersion: "1.4.2", Sources: sources, Snapshot: enc, Blobs: first.ContentDigests()}, nil), http.StatusOK, "first report")
	drift := baseline.Diff(first, second, baseline.DiffOptions{})
	drift.BaselineVersion = 1
	want(s.do(http.MethodPost, api.PathReports, agent, api.Report{Sequence: 2, SnapshotDigest: second.Digest(), ItemCount: 2, TakenAt: second.TakenAt,
		AgentVersion: "1.4.2", Sources: sources, Drift: drift}, nil), http.StatusOK, "report with drift")
	want(s.do(http.MethodPost, api.PathHeartbeat, agent, s.requestExample(http.MethodPost, api.PathHeartbeat, ""), nil), http.StatusOK, "heartbeat example")
	a := s.do(http.MethodPost, api.PathEvents, agent, s.requestExample(http.MethodPost, api.PathEvents, ""), nil)
	want(a, http.StatusOK, "events example")
	var added api.EventsResponse
	if decode(a, &added); added.Added != 2 {
		t.Errorf("events example: added %d, want 2", added.Added)
	}
	want(s.do(http.MethodGet, hostPath+"/baseline", agent, nil, nil), http.StatusOK, "the agent reads its baseline")
	want(s.do(http.MethodGet, hostPath+"/baseline", agent, nil, map[string]string{"If-None-Match": `"1"`}), http.StatusNotModified, "baseline not modified")

	// People read hosts.
	dave := tn.users["dave@acme.example"]
	for _, p := range []string{api.PathHosts, hostPath + "/drift", hostPath + "/status", hostPath + "/events", hostPath + "/baseline", hostPath + "/baselines"} {
		want(s.do(http.MethodGet, p, dave, nil, nil), http.StatusOK, "GET "+p)
	}
	want(s.do(http.MethodGet, api.PathHosts+"/h_000000000000000000000000/status", dave, nil, nil), http.StatusNotFound, "status of no host")

	// The policy: the default, the example stored with If-Match, a stale
	// If-Match refused.
	tok, p := tn.as("root@msp.example", api.PathPolicy)
	a = s.do(http.MethodGet, p, tok, nil, nil)
	want(a, http.StatusOK, "default policy")
	if got := a.header.Get("ETag"); got != `"0"` {
		t.Errorf("ETag of the default policy %q, want \"0\"", got)
	}
	example := s.requestExample(http.MethodPut, api.PathPolicy, "acme")
	want(s.do(http.MethodPut, p, dave, example, nil), http.StatusForbidden, "viewer puts the policy")
	a = s.do(http.MethodPut, p, tok, example, map[string]string{"If-Match": `"0"`})
	want(a, http.StatusOK, "policy example")
	if got := a.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag after the first change %q, want \"1\"", got)
	}
	want(s.do(http.MethodPut, p, tok, example, map[string]string{"If-Match": `"0"`}), http.StatusPreconditionFailed, "stale If-Match")
	want(s.do(http.MethodPut, p, tok, []byte(`{"grace":"30m","escalation":[{"name":"x","level":4}]}`), nil), http.StatusUnprocessableEntity, "invalid policy")

	// A ticket from the example, through review and approval; a second
	// one with the same reference refused, a third rejected with the
	// example.
	spec := s.requestExample(http.MethodPost, api.PathTickets, "")
	tok, p = tn.as("alice@msp.example", api.PathTickets)
	a = s.do(http.MethodPost, p, tok, spec, nil)
	want(a, http.StatusCreated, "ticket example")
	var tk ticket.Ticket
	decode(a, &tk)
	want(s.do(http.MethodPost, p, tok, spec, nil), http.StatusConflict, "ticket with a taken reference")
	want(s.do(http.MethodPost, p, dave, spec, nil), http.StatusForbidden, "viewer raises a ticket")
	want(s.do(http.MethodPost, p, tok, []byte(`{"title":""}`), nil), http.StatusUnprocessableEntity, "ticket without a title")
	act := func(email, id string, body any, status int, what string) oaAnswer {
		t.Helper()
		tok, p := tn.as(email, api.PathTickets+"/"+id+"/actions")
		a := s.do(http.MethodPost, p, tok, body, nil)
		want(a, status, what)
		return a
	}
	act("alice@msp.example", tk.ID, api.TicketAction{Action: "submit"}, http.StatusOK, "submit")
	act("alice@msp.example", tk.ID, api.TicketAction{Action: "review"}, http.StatusForbidden, "the requester reviews")
	act("erik@msp.example", tk.ID, api.TicketAction{Action: "review", Comment: "Config checked with sshd -t on web-stg-01."}, http.StatusOK, "review")
	act("bob@msp.example", tk.Reference, s.requestExample(http.MethodPost, api.PathTickets+"/x/actions", "approve"), http.StatusOK, "approve example")
	act("bob@msp.example", tk.ID, api.TicketAction{Action: "approve"}, http.StatusConflict, "approve twice")
	act("alice@msp.example", tk.ID, api.TicketAction{Action: "cancel"}, http.StatusUnprocessableEntity, "cancel without a comment")
	act("alice@msp.example", "chg_000000000000000000000000", api.TicketAction{Action: "submit"}, http.StatusNotFound, "no such ticket")
	var other ticket.Spec
	if err := json.Unmarshal(spec, &other); err != nil {
		t.Fatal(err)
	}
	other.Reference = ""
	a = s.do(http.MethodPost, p, tok, other, nil)
	want(a, http.StatusCreated, "second ticket")
	var tk2 ticket.Ticket
	decode(a, &tk2)
	act("alice@msp.example", tk2.ID, api.TicketAction{Action: "submit"}, http.StatusOK, "submit the second")
	act("bob@msp.example", tk2.ID, s.requestExample(http.MethodPost, api.PathTickets+"/x/actions", "reject"), http.StatusOK, "reject example")
	tok, p = tn.as("bob@msp.example", api.PathTickets+"?state=approved&state=rejected&limit=1")
	a = s.do(http.MethodGet, p, tok, nil, nil)
	want(a, http.StatusOK, "ticket list")
	var page struct {
		Tickets []ticket.Ticket `json:"tickets"`
		Next    string          `json:"next"`
	}
	decode(a, &page)
	if len(page.Tickets) != 1 || page.Next == "" {
		t.Errorf("first page of 1: %d tickets, next %q; want 1 and a cursor", len(page.Tickets), page.Next)
	}
	tok, p = tn.as("bob@msp.example", api.PathTickets+"?limit=1&cursor="+url.QueryEscape(page.Next))
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusOK, "second page")
	want(s.do(http.MethodGet, api.PathTickets+"?cursor=nonsense", dave, nil, nil), http.StatusUnprocessableEntity, "bad cursor")
	want(s.do(http.MethodGet, api.PathTickets+"/"+tk.Reference, dave, nil, nil), http.StatusOK, "ticket by reference")

	// Drift: the inbox, one item with history, a revert and an acceptance
	// from the examples.
	a = s.do(http.MethodGet, api.PathDrift+"?host="+tn.hostID+"&status=open", dave, nil, nil)
	want(a, http.StatusOK, "drift inbox")
	var inbox api.DriftPage
	decode(a, &inbox)
	if len(inbox.Items) != 3 {
		t.Fatalf("drift inbox: %d items, want 3 (sshd_config modified, motd removed, issue added)", len(inbox.Items))
	}
	for _, q := range []string{"?level=4", "?since=yesterday", "?status=closed", "?cursor=x"} {
		s.do(http.MethodGet, api.PathDrift+q, dave, nil, nil)
	}
	want(s.do(http.MethodGet, api.PathDrift+"?key="+url.QueryEscape("file:/etc/ssh/*")+"&verdict=unauthorized&level=3&since=2025-03-01T00:00:00Z&until=2026-01-01T00:00:00Z", dave, nil, nil), http.StatusOK, "drift filters")
	want(s.do(http.MethodGet, api.PathDrift+"/"+inbox.Items[0].ID, dave, nil, nil), http.StatusOK, "drift item")
	want(s.do(http.MethodGet, api.PathDrift+"/d_000000000000000000000000", dave, nil, nil), http.StatusNotFound, "no such drift item")
	revert := s.requestExample(http.MethodPost, api.PathDrift+"/x/revert", "")
	accept := s.requestExample(http.MethodPost, api.PathDrift+"/x/accept", "")
	want(s.do(http.MethodPost, api.PathDrift+"/"+inbox.Items[0].ID+"/revert", dave, revert, nil), http.StatusForbidden, "viewer reverts")
	tok, p = tn.as("alice@msp.example", api.PathDrift+"/"+inbox.Items[0].ID+"/revert")
	want(s.do(http.MethodPost, p, tok, revert, nil), http.StatusOK, "revert example")
	want(s.do(http.MethodPost, p, tok, []byte(`{"reason":"  "}`), nil), http.StatusBadRequest, "revert without a reason")
	// The 1.0 way: approve the reported snapshot as baseline v2.
	tok, p = tn.as("bob@msp.example", hostPath+"/baseline")
	approve := api.ApproveRequest{SnapshotDigest: second.Digest(), Reason: "sshd hardening rolled out", Tickets: []string{tk.Reference}}
	want(s.do(http.MethodPost, p, tok, approve, nil), http.StatusCreated, "approve the reported snapshot")
	// The approval resolved the drift it approved; a new change after it
	// is accepted from the example.
	third := &baseline.Snapshot{Format: baseline.FormatVersion, Host: second.Host, TakenAt: second.TakenAt.Add(time.Hour),
		Items: append(append([]baseline.Item(nil), second.Items...), item("file:/etc/hostname", "0644"))}
	third.Sort()
	drift3 := baseline.Diff(second, third, baseline.DiffOptions{})
	drift3.BaselineVersion = 2
	want(s.do(http.MethodPost, api.PathReports, agent, api.Report{Sequence: 3, SnapshotDigest: third.Digest(), ItemCount: 3, TakenAt: third.TakenAt,
		AgentVersion: "1.4.2", Sources: sources, Drift: drift3}, nil), http.StatusOK, "report after the approval")
	a = s.do(http.MethodGet, api.PathDrift+"?host="+tn.hostID+"&status=open", dave, nil, nil)
	want(a, http.StatusOK, "drift inbox after the approval")
	var inbox2 api.DriftPage
	decode(a, &inbox2)
	if len(inbox2.Items) != 1 || inbox2.Items[0].Key != "file:/etc/hostname" {
		t.Fatalf("open drift after the approval: %+v; want only the new file", inbox2.Items)
	}
	tok, p = tn.as("bob@msp.example", api.PathDrift+"/"+inbox2.Items[0].ID+"/accept")
	a = s.do(http.MethodPost, p, tok, accept, nil)
	want(a, http.StatusOK, "accept example")
	var res api.DriftDecisionResult
	if decode(a, &res); len(res.Baselines) != 1 || res.Baselines[0].Version != 3 || res.Baselines[0].Host != "web01.example.com" {
		t.Errorf("accept: %+v, want baseline v3 of web01.example.com", res)
	}
	want(s.do(http.MethodPost, p, tok, accept, nil), http.StatusConflict, "accept twice")

	// The audit log, its verification and the metrics.
	tok, p = tn.as("bob@msp.example", api.PathAudit+"?after=1&limit=5")
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusOK, "audit log")
	a = s.do(http.MethodGet, api.PathAudit+"/verify", dave, nil, nil)
	want(a, http.StatusOK, "audit verify")
	var ver api.AuditVerification
	if decode(a, &ver); !ver.Intact || ver.Checked < 5 {
		t.Errorf("audit verify: %+v, want an intact chain of the steps above", ver)
	}
	want(s.do(http.MethodGet, api.PathMetricsAPI+"?from=2025-03-01T00:00:00Z&to=2025-04-01T00:00:00Z", dave, nil, nil), http.StatusOK, "change metrics")
	want(s.do(http.MethodGet, api.PathMetricsAPI+"?from=2025-03-01", dave, nil, nil), http.StatusBadRequest, "metrics with a date")

	// A CI deployment from the example, of the approved ticket; listed.
	tok, p = tn.as("root@msp.example", api.PathDeployments)
	want(s.do(http.MethodPost, p, tok, s.requestExample(http.MethodPost, api.PathDeployments, ""), nil), http.StatusCreated, "deployment example")
	want(s.do(http.MethodPost, p, dave, s.requestExample(http.MethodPost, api.PathDeployments, ""), nil), http.StatusForbidden, "viewer records a deployment")
	want(s.do(http.MethodPost, p, tok, []byte(`{"ticket":"CHG0039999","commit":"abc","hosts":["web01.example.com"]}`), nil), http.StatusNotFound, "deployment of no ticket")
	want(s.do(http.MethodPost, p, tok, []byte(`{"ticket":"CHG0030001","hosts":["web01.example.com"]}`), nil), http.StatusUnprocessableEntity, "deployment without a commit")
	want(s.do(http.MethodGet, api.PathDeployments+"?ticket=CHG0030001&host=web01.example.com&since=2025-03-01T00:00:00Z&limit=5", dave, nil, nil), http.StatusOK, "deployments")
	want(s.do(http.MethodGet, api.PathDeployments+"?since=2025-03-01", dave, nil, nil), http.StatusBadRequest, "deployments since a date")

	// Connectors from the examples: the webhook created, read, changed,
	// listed and deleted; credentials refused by a collector without a
	// secrets key.
	tok, p = tn.as("root@msp.example", api.PathConnectors)
	want(s.do(http.MethodPost, p, tok, s.requestExample(http.MethodPost, api.PathConnectors, "webhook"), nil), http.StatusCreated, "connector example")
	want(s.do(http.MethodPost, p, tok, s.requestExample(http.MethodPost, api.PathConnectors, "servicenow"), nil), http.StatusServiceUnavailable, "connector credentials without a key")
	want(s.do(http.MethodPost, p, dave, s.requestExample(http.MethodPost, api.PathConnectors, "webhook"), nil), http.StatusForbidden, "viewer creates a connector")
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusOK, "connectors")
	tok, p = tn.as("root@msp.example", api.PathConnectors+"/acme-ci-hook")
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusOK, "connector")
	want(s.do(http.MethodPut, p, tok, s.requestExample(http.MethodPut, api.PathConnectors+"/{name}", ""), nil), http.StatusOK, "connector change example")
	want(s.do(http.MethodDelete, p, tok, nil, nil), http.StatusNoContent, "connector deleted")
	want(s.do(http.MethodDelete, p, tok, nil, nil), http.StatusNotFound, "connector deleted again")

	// The tenant's notification settings from the example: set, read,
	// refused when invalid or by a viewer, removed.
	tok, p = tn.as("root@msp.example", api.PathTenants+"/"+url.PathEscape(tn.name)+"/notify")
	notifyExample := s.requestExample(http.MethodPut, api.PathTenants+"/{tenant}/notify", "")
	want(s.do(http.MethodPut, p, tok, notifyExample, nil), http.StatusOK, "notification settings example")
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusOK, "notification settings")
	want(s.do(http.MethodPut, p, dave, notifyExample, nil), http.StatusForbidden, "viewer sets notification settings")
	want(s.do(http.MethodPut, p, tok, []byte(`{"digest":"61 * * * *","recipients":["ops@acme.example"]}`), nil), http.StatusUnprocessableEntity, "invalid notification settings")
	want(s.do(http.MethodDelete, p, tok, nil, nil), http.StatusNoContent, "notification settings removed")
	want(s.do(http.MethodGet, p, tok, nil, nil), http.StatusNotFound, "notification settings after removal")

	for _, op := range s.doc.ops {
		if !s.exercised[op.String()] {
			t.Errorf("openapi.yaml:%d: %s never answered with success here; exercise it", op.line, op)
		}
	}
}
