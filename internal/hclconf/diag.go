package hclconf

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// DiagnosticsError carries HCL diagnostics and the files they point into,
// so that they can be printed with the offending source lines.
type DiagnosticsError struct {
	// Diags are the problems found, in source order within each step.
	Diags hcl.Diagnostics
	// Files are the parsed files by name, for the text rendering.
	Files map[string]*hcl.File
}

// Error returns the error diagnostics one per line, as
// file:line,col-range: summary; detail.
func (e *DiagnosticsError) Error() string {
	var msgs []string
	for _, d := range e.Diags {
		if d.Severity == hcl.DiagError {
			msgs = append(msgs, d.Error())
		}
	}
	return strings.Join(msgs, "\n")
}

// WriteText writes each diagnostic as a "file:line:col: error: summary" line
// that editors and terminals link to, followed by HCL's text rendering: the
// source line, a marker under the offending part and the detail.
func (e *DiagnosticsError) WriteText(w io.Writer) error {
	wr := hcl.NewDiagnosticTextWriter(w, e.Files, 100, false)
	for _, d := range e.Diags {
		pos := "config"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if _, err := fmt.Fprintf(w, "%s: %s: %s\n", pos, sev, d.Summary); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
		if err := wr.WriteDiagnostic(d); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	return nil
}

// AsDiagnostics returns err as a *DiagnosticsError when it is one.
func AsDiagnostics(err error) (*DiagnosticsError, bool) {
	var d *DiagnosticsError
	ok := errors.As(err, &d)
	return d, ok
}

// ErrAt is an error diagnostic at rng.
func ErrAt(rng *hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng}
}

// AttrRange returns where the value of the named attribute of body is, or
// where body opens when the attribute is absent; nil when body is not
// native syntax.
func AttrRange(body hcl.Body, name string) *hcl.Range {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	if a, ok := sb.Attributes[name]; ok {
		r := a.Expr.Range()
		return &r
	}
	return BlockRange(body)
}

// ElemRange returns where element i of a list attribute is, falling back
// to the attribute itself.
func ElemRange(body hcl.Body, name string, i int) *hcl.Range {
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[name]; ok {
			if tup, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && i < len(tup.Exprs) {
				r := tup.Exprs[i].Range()
				return &r
			}
		}
	}
	return AttrRange(body, name)
}

// BlockRange returns where a body opens; nil when it is not native syntax.
func BlockRange(body hcl.Body) *hcl.Range {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	r := sb.SrcRange
	r.End = r.Start
	return &r
}
