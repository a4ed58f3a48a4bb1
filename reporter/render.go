package reporter

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is the policy the web pages are written for: no
// inline script or style, nothing from another origin. Handlers send it
// with every page.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// assets holds the embedded static files' content versions.
var assets = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:4])
		return nil
	})
	return m
})

// assetVersion returns the content version of an embedded asset, "" when
// there is no such asset.
func assetVersion(name string) string { return assets()[name] }

// Options configures a Renderer.
type Options struct {
	// BasePath is the URL path the pages are served under; "" means
	// DefaultBasePath. Use "/" for the site root.
	BasePath string
}

// Renderer renders the web pages, the baseline documentation and the
// email bodies. It is safe for concurrent use. Every method renders the
// whole output before writing any of it: on an error nothing is written.
type Renderer struct {
	links Links
	pages map[string]*template.Template
	email map[string]*template.Template
	// docCSS is the style sheet inlined into standalone documentation.
	docCSS template.CSS
	docCSP string
}

// pageModel is a view model that embeds Page.
type pageModel interface{ page() *Page }

func (p *Page) page() *Page { return p }

// Links returns the URL builder of the page's site.
func (p *Page) Links() Links { return p.links }

// Nav returns the navigation section the page belongs to.
func (p *Page) Nav() string { return p.nav }

// loc returns the page's time zone.
func (p *Page) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Time shows t in the page's zone to the minute, in a <time> element.
func (p *Page) Time(t time.Time) template.HTML { return timeHTML(t, p.loc(), "2006-01-02 15:04") }

// Date shows the day of t in the page's zone.
func (p *Page) Date(t time.Time) template.HTML { return timeHTML(t, p.loc(), "2006-01-02") }

// Ago says how long before Now t was: "5 min ago", "3 h ago", "2 d ago".
func (p *Page) Ago(t time.Time) string { return ago(p.Now, t) }

// When shows t and how long ago it was.
func (p *Page) When(t time.Time) template.HTML {
	if t.IsZero() {
		return timeHTML(t, p.loc(), "")
	}
	return p.Time(t) + template.HTML(` <span class="ago">`+template.HTMLEscapeString(p.Ago(t))+`</span>`)
}

// ZoneName names the page's time zone.
func (p *Page) ZoneName() string { return p.loc().String() }

// TenantName returns the name of the page's tenant, "All tenants" when it
// has none.
func (p *Page) TenantName() string {
	for _, t := range p.TenantOptions {
		if t.ID == p.TenantID {
			return t.Name
		}
	}
	if p.TenantID == "" {
		return "All tenants"
	}
	return p.TenantID
}

// ago formats the time from t to now for people.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min" + suffix
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h" + suffix
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + " d" + suffix
	}
}

// humanDuration formats a duration for people: "45 min", "3.5 h", "2.1 d".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	default:
		return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " d"
	}
}

// humanBytes formats a size: "512 B", "4.0 KiB", "1.5 MiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// CSRFField returns the hidden form field that carries a CSRF token; the
// page templates put it in every form that posts.
func CSRFField(token string) template.HTML {
	return template.HTML(`<input type="hidden" name="` + FieldCSRF + `" value="` + template.HTMLEscapeString(baseline.EscapeBytes(token)) + `">`)
}

// funcs are the functions the templates use.
func funcs() template.FuncMap {
	return template.FuncMap{
		// vis shows a host string on one line, vism with its newlines.
		"vis":  func(s string) template.HTML { return visibleHTML(s, false) },
		"vism": func(s string) template.HTML { return visibleHTML(s, true) },
		"hl":   highlightHTML,
		// vt shows a host string as text where markup cannot go (a
		// title, a tooltip): hidden characters as "<U+202E>".
		"vt": func(s string) string { return oneLine(s, 300) },
		// av is a value for a form field, echoed exactly except that
		// bytes that are not UTF-8 are written as \xNN.
		"av": baseline.EscapeBytes,
		// cls reduces a value to a safe CSS class name.
		"cls":          cssClass,
		"csrf":         CSRFField,
		"verdicts":     func() []Verdict { return Verdicts },
		"levels":       func() []Level { return Levels },
		"ticketStates": func() []TicketState { return TicketStates },
		"extURL":       safeExternalURL,
		"duration":     humanDuration,
		"bytes":        humanBytes,
		"join":         strings.Join,
		"plural":       plural,
		"sideLabel":    SideLabel,
		"add":          func(a, b int) int { return a + b },
		"pct": func(v float64) string {
			return strconv.FormatFloat(v, 'f', 1, 64) + " %"
		},
		"labels":   labelList,
		"parse":    parseDiffView,
		"attrRows": attrRows,
		"kindOf":   baseline.KindOf,
		"rollback": RollbackSteps,
		"lineNo": func(n int) string {
			if n == 0 {
				return ""
			}
			return strconv.Itoa(n)
		},
		"lineClass": func(l *DiffLine) string {
			if l == nil {
				return "empty"
			}
			switch l.Kind {
			case LineAdded:
				return "add"
			case LineRemoved:
				return "del"
			}
			return "ctx"
		},
		"marker": func(k LineKind) string {
			if k == LineContext {
				return " "
			}
			return string(rune(k))
		},
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}

// cssClass keeps the characters of a CSS class name: ASCII letters,
// digits, '-' and '_'; anything else is dropped, and nothing left gives
// "unknown".
func cssClass(s string) string {
	out := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
	if out == "" {
		return "unknown"
	}
	return out
}

// labelList returns labels as sorted "key=value" strings.
func labelList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// diffView is a content diff prepared for a template: parsed, or the raw
// text with the reason it could not be parsed.
type diffView struct {
	File  *FileDiff
	Raw   string
	Error string
}

func parseDiffView(s string) diffView {
	fd, err := ParseUnifiedDiff(s)
	if err != nil {
		return diffView{Raw: s, Error: err.Error()}
	}
	return diffView{File: fd}
}

// attrRow is one attribute of a change: its name, old and new value.
type attrRow struct {
	Name     string
	Old, New string
	// Info says the attribute alone never counts as drift (mtime).
	Info bool
}

// attrRows returns a change's attributes in name order, the content digest
// last.
func attrRows(m map[string]baseline.AttrChange) []attrRow {
	rows := make([]attrRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, attrRow{Name: k, Old: v.Old, New: v.New, Info: baseline.IsInformational(k)})
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].Name == baseline.AttrSHA256, rows[j].Name == baseline.AttrSHA256
		if a != b {
			return b
		}
		return rows[i].Name < rows[j].Name
	})
	return rows
}

// New parses the embedded templates and returns a Renderer.
func New(opt Options) (*Renderer, error) {
	base := opt.BasePath
	if base == "" {
		base = DefaultBasePath
	}
	r := &Renderer{links: NewLinks(base), pages: map[string]*template.Template{}, email: map[string]*template.Template{}}
	layout, err := template.New("layout").Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/docbody.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout templates: %w", err)
	}
	pages, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("list page templates: %w", err)
	}
	for _, p := range pages {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone layout for %s: %w", p, err)
		}
		if _, err := t.ParseFS(templateFS, p); err != nil {
			return nil, fmt.Errorf("parse page template %s: %w", p, err)
		}
		r.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	doc, err := template.New("doc").Funcs(funcs()).ParseFS(templateFS, "templates/partials.html", "templates/docbody.html")
	if err != nil {
		return nil, fmt.Errorf("parse documentation templates: %w", err)
	}
	r.pages["doc-standalone"] = doc
	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		return nil, fmt.Errorf("read style sheet: %w", err)
	}
	r.docCSS = template.CSS(css)
	sum := sha256.Sum256(css)
	r.docCSP = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:"
	if err := r.parseEmail(); err != nil {
		return nil, err
	}
	return r, nil
}

// Links returns the URL builder of the web pages.
func (r *Renderer) Links() Links { return r.links }

// StandaloneCSP is the Content-Security-Policy for standalone
// documentation: its one inline style sheet, by hash, and nothing else.
func (r *Renderer) StandaloneCSP() string { return r.docCSP }

// Static returns the handler of the embedded style sheet, script and icon,
// to be mounted at the base path's /static/ (Links.Static builds the
// URLs). The files carry a content version in their URL, so they may be
// cached long.
func (r *Renderer) Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("embedded static directory: %v", err)) // cannot happen: it is embedded
	}
	files := http.FileServerFS(sub)
	prefix := r.links.Base + "/static/"
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name := strings.TrimPrefix(req.URL.Path, prefix)
		name = strings.TrimPrefix(name, "/static/")
		if assetVersion(name) == "" {
			http.NotFound(w, req)
			return
		}
		if req.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		req2 := req.Clone(req.Context())
		req2.URL.Path = "/" + name
		files.ServeHTTP(w, req2)
	})
}

// render executes a page template into a buffer and writes it whole.
func (r *Renderer) render(w io.Writer, name string, m pageModel, nav, title string) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("render %s page: no such template", name)
	}
	p := m.page()
	p.links = r.links
	p.nav = nav
	if p.Title == "" {
		p.Title = title
	}
	return r.execute(w, t, "layout", m, name+" page")
}

// bufPool holds the buffers pages are rendered into; buffers that grew
// beyond maxPooled are left to the collector.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooled = 4 << 20

// execute runs one template into a buffer and writes the result whole, so
// that a failing template writes nothing.
func (r *Renderer) execute(w io.Writer, t *template.Template, name string, data any, what string) error {
	if t == nil {
		return fmt.Errorf("render %s: no template", what)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooled {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	if err := t.ExecuteTemplate(buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", what, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}
