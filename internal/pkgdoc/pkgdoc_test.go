package pkgdoc

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// moduleRoot returns the directory holding go.mod, above the test's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// skipDir reports whether a directory holds no packages of the module:
// testdata, vendor, hidden and underscore directories, benchmark
// harnesses, and nested modules.
func skipDir(root, path, name string) bool {
	if path == root {
		return false
	}
	if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	if rel, _ := filepath.Rel(root, path); rel == "bench" {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "go.mod"))
	return err == nil
}

// hasDoc reports whether a doc comment has text beyond directives.
func hasDoc(g *ast.CommentGroup) bool {
	return g != nil && strings.TrimSpace(g.Text()) != ""
}

// receiverType returns the name of a method's receiver type: T for T, *T,
// T[P] and *T[P].
func receiverType(expr ast.Expr) string {
	for {
		switch e := expr.(type) {
		case *ast.StarExpr:
			expr = e.X
		case *ast.ParenExpr:
			expr = e.X
		case *ast.IndexExpr:
			expr = e.X
		case *ast.IndexListExpr:
			expr = e.X
		case *ast.Ident:
			return e.Name
		default:
			return ""
		}
	}
}

// problem is one missing doc comment, or a file that does not parse.
type problem struct {
	file string // relative to the module root, with slashes
	line int
	msg  string
}

func (p problem) String() string { return p.file + ":" + strconv.Itoa(p.line) + ": " + p.msg }

// undocumented returns the exported top-level identifiers of f that have no
// doc comment.
func undocumented(fset *token.FileSet, rel string, f *ast.File) []problem {
	var out []problem
	at := func(pos token.Pos, msg string) {
		out = append(out, problem{file: rel, line: fset.Position(pos).Line, msg: msg})
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || hasDoc(d.Doc) {
				continue
			}
			if d.Recv == nil {
				at(d.Pos(), "func "+d.Name.Name+" has no doc comment")
				continue
			}
			if len(d.Recv.List) == 0 {
				continue
			}
			if recv := receiverType(d.Recv.List[0].Type); ast.IsExported(recv) {
				at(d.Pos(), "method "+recv+"."+d.Name.Name+" has no doc comment")
			}
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			// A comment on a parenthesized group documents every spec in it.
			if hasDoc(d.Doc) {
				continue
			}
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && !hasDoc(s.Doc) {
						at(s.Pos(), "type "+s.Name.Name+" has no doc comment")
					}
				case *ast.ValueSpec:
					if hasDoc(s.Doc) {
						continue
					}
					for _, n := range s.Names {
						if n.IsExported() {
							at(n.Pos(), d.Tok.String()+" "+n.Name+" has no doc comment")
						}
					}
				}
			}
		}
	}
	return out
}

// check walks the module at root and returns every problem, as
// "file:line: what" sorted by file and line, and the number of packages it
// checked.
func check(root string) ([]string, int, error) {
	fset := token.NewFileSet()
	type pkg struct {
		files []string // relative paths
		doc   bool
	}
	var problems []problem
	packages := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if skipDir(root, path, d.Name()) {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		pkgs := map[string]*pkg{}
		var order []string
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				continue
			}
			full := filepath.Join(path, name)
			rel, _ := filepath.Rel(root, full)
			rel = filepath.ToSlash(rel)
			f, err := parser.ParseFile(fset, full, nil, parser.ParseComments)
			if err != nil {
				pr := problem{file: rel, line: 1, msg: err.Error()}
				var list scanner.ErrorList
				if errors.As(err, &list) && len(list) > 0 {
					pr.line, pr.msg = list[0].Pos.Line, "does not parse: "+list[0].Msg
				}
				problems = append(problems, pr)
				continue
			}
			if ast.IsGenerated(f) {
				continue
			}
			p := pkgs[f.Name.Name]
			if p == nil {
				p = &pkg{}
				pkgs[f.Name.Name] = p
				order = append(order, f.Name.Name)
			}
			p.files = append(p.files, rel)
			p.doc = p.doc || hasDoc(f.Doc)
			problems = append(problems, undocumented(fset, rel, f)...)
		}
		for _, name := range order {
			packages++
			if p := pkgs[name]; !p.doc {
				problems = append(problems, problem{file: p.files[0], line: 1, msg: "package " + name + " has no package doc comment (add a doc.go)"})
			}
		}
		return nil
	})
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.file != b.file {
			return a.file < b.file
		}
		return a.line < b.line
	})
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.String()
	}
	return out, packages, err
}

// TestPackageDocs fails for every package of the module (main packages
// too) whose files have no package doc comment, and for every exported
// top-level function, method on an exported type, type, variable and
// constant without a doc comment. Test files and generated files are not
// checked.
func TestPackageDocs(t *testing.T) {
	root := moduleRoot(t)
	problems, packages, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	if packages == 0 {
		t.Fatalf("no packages found under %s", root)
	}
	t.Logf("checked %d packages under %s", packages, root)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheck runs the check on a small module with one of each mistake, and
// with their documented counterparts that must pass.
func TestCheck(t *testing.T) {
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.26\n",
		// Documented in doc.go only; every form of documented identifier.
		"good/doc.go": "// Package good is documented.\npackage good\n",
		"good/good.go": `package good

// Group documents both.
const (
	A = 1
	B = 2
)

const (
	// C is documented on its own.
	C = 3
	d = 4
)

// T is a type.
type T[P any] struct{}

// M is a method.
func (T[P]) M() {}

func (*T[P]) unexported() {}

type hidden struct{}

func (hidden) Exported() {}

//go:noinline
func unexportedWithDirective() {}

// Code is a generic function.
func Code[P any]() {}
`,
		"good/good_test.go": "package good\n\nfunc TestUndocumented() {}\n",
		"bad/bad.go": `//go:build linux

package bad

func F() {}

//go:noinline
func G() {}

var V, w = 1, 2

const (
	K = 1 // a line comment is not a doc comment
)

type (
	// U is documented.
	U int
	X int
)

type T struct{}

func (t *T) M() {}
`,
		"cmd/tool/main.go":        "package main\n\nfunc main() {}\n",
		"gen/gen.go":              "// Code generated by hand. DO NOT EDIT.\n\npackage gen\n\nfunc F() {}\n",
		"testdata/fixture.go":     "package fixture\n\nfunc F() {}\n",
		"bench/harness.go":        "package main\n\nfunc F() {}\n",
		".hidden/x.go":            "package x\n",
		"nested/go.mod":           "module example.com/nested\n",
		"nested/n.go":             "package n\n",
		"mixed/a.go":              "package mixed\n",
		"mixed/b.go":              "// Package mixed has its doc in another file.\npackage mixed\n",
		"broken/broken.go":        "package broken\n\nfunc (\n",
		"onlytests/x_test.go":     "package onlytests\n",
		"twopkgs/ignored_main.go": "//go:build ignore\n\npackage main\n",
		"twopkgs/lib.go":          "// Package twopkgs is documented.\npackage twopkgs\n",
	}
	root := t.TempDir()
	for name, src := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, packages, err := check(root)
	if err != nil {
		t.Fatal(err)
	}
	// broken's package is not counted: its only file does not parse.
	if packages != 6 {
		t.Errorf("checked %d packages, want 6 (good, bad, main, mixed, and twopkgs's two)", packages)
	}
	want := []string{
		"bad/bad.go:1: package bad has no package doc comment (add a doc.go)",
		"bad/bad.go:5: func F has no doc comment",
		"bad/bad.go:8: func G has no doc comment",
		"bad/bad.go:10: var V has no doc comment",
		"bad/bad.go:13: const K has no doc comment",
		"bad/bad.go:19: type X has no doc comment",
		"bad/bad.go:22: type T has no doc comment",
		"bad/bad.go:24: method T.M has no doc comment",
		"broken/broken.go:3: does not parse: expected ')', found 'EOF'",
		"cmd/tool/main.go:1: package main has no package doc comment (add a doc.go)",
		"twopkgs/ignored_main.go:1: package main has no package doc comment (add a doc.go)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
