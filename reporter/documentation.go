package reporter

import (
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
)

// InventoryEntry is one disk, interface or other inventory item, with its
// attributes in one line.
type InventoryEntry struct {
	Name    string
	Summary string
	Error   string
}

// Inventory is what a host is, from its inventory items: the summary an
// engineer reads first.
type Inventory struct {
	OS         string
	Kernel     string
	CPU        string
	Memory     string
	Hostname   string
	MachineID  string
	Disks      []InventoryEntry
	Interfaces []InventoryEntry
	// Other are inventory items of other names.
	Other []InventoryEntry
}

// Empty reports whether the snapshot had no inventory.
func (inv Inventory) Empty() bool {
	return inv.OS == "" && inv.Kernel == "" && inv.CPU == "" && inv.Memory == "" && inv.Hostname == "" &&
		len(inv.Disks)+len(inv.Interfaces)+len(inv.Other) == 0
}

// attrSummary writes attributes as "name=value, …" in name order.
func attrSummary(a baseline.Attrs, skip ...string) string {
	parts := make([]string, 0, len(a))
outer:
	for _, at := range a {
		for _, s := range skip {
			if at.Name == s {
				continue outer
			}
		}
		parts = append(parts, at.Name+"="+at.Value)
	}
	return strings.Join(parts, ", ")
}

// InventoryOf reads the inventory items ("inventory:os", "inventory:disk/sda"
// …) of a snapshot; a nil snapshot gives an empty Inventory.
func InventoryOf(s *baseline.Snapshot) Inventory {
	var inv Inventory
	if s == nil {
		return inv
	}
	for i := range s.Items {
		it := &s.Items[i]
		if it.Kind() != baseline.KindInventory {
			continue
		}
		get := func(n string) string { v, _ := it.Attrs.Get(n); return v }
		name := it.Name()
		switch {
		case name == "os":
			inv.OS = get("pretty_name")
			if inv.OS == "" {
				inv.OS = strings.TrimSpace(get("name") + " " + get("version_id"))
			}
		case name == "kernel":
			inv.Kernel = strings.TrimSpace(get("release") + " " + get("arch"))
		case name == "cpu":
			inv.CPU = get("model")
			if n := get("count"); n != "" {
				if inv.CPU != "" {
					inv.CPU += " × " + n
				} else {
					inv.CPU = n + " processors"
				}
			}
		case name == "memory":
			inv.Memory = get("total_human")
			if inv.Memory == "" {
				inv.Memory = get("total")
			}
		case name == "machine":
			inv.Hostname, inv.MachineID = get("hostname"), get("machine_id")
		case strings.HasPrefix(name, "disk/"):
			e := InventoryEntry{Name: strings.TrimPrefix(name, "disk/"), Error: it.Error}
			var parts []string
			if b, err := strconv.ParseInt(get("size_bytes"), 10, 64); err == nil {
				parts = append(parts, humanBytes(b))
			}
			if m := get("model"); m != "" {
				parts = append(parts, m)
			}
			switch get("rotational") {
			case "0":
				parts = append(parts, "SSD")
			case "1":
				parts = append(parts, "rotational")
			}
			e.Summary = strings.Join(parts, ", ")
			inv.Disks = append(inv.Disks, e)
		case strings.HasPrefix(name, "interface/"):
			inv.Interfaces = append(inv.Interfaces, InventoryEntry{Name: strings.TrimPrefix(name, "interface/"),
				Summary: attrSummary(it.Attrs), Error: it.Error})
		default:
			inv.Other = append(inv.Other, InventoryEntry{Name: name, Summary: attrSummary(it.Attrs), Error: it.Error})
		}
	}
	return inv
}

// DocChange is one change in a documentation's appendix: what changed
// between the previous baseline version and this one, and under which
// tickets.
type DocChange struct {
	Key     string
	Change  baseline.ChangeKind
	Verdict Verdict
	// Summary says what changed for people.
	Summary string
	Tickets []TicketRef
	// At is when the change was first seen; AcceptedBy who accepted it.
	At         time.Time
	AcceptedBy string
	// Diff is the change's unified diff, when it had text content.
	Diff string
}

// HostDocumentation is the view model of one host's baseline
// documentation: the approved snapshot (decode the stored encoding with
// baseline.Unmarshal) with its approval, the redacted text of its content
// blobs, and the changes since the previous version.
type HostDocumentation struct {
	Tenant TenantRef
	Host   HostRef
	Labels map[string]string
	Meta   baseline.Meta
	// Snapshot is the baseline's snapshot.
	Snapshot *baseline.Snapshot
	// Content is the redacted text of content blobs, by digest; an item
	// whose content is missing here is documented by digest only.
	Content map[baseline.Digest]string
	// PreviousVersion is the version the appendix starts from; 0 for the
	// first baseline.
	PreviousVersion int
	Changes         []DocChange
	// GeneratedAt is when the document is made; Location the zone of its
	// times (nil: UTC).
	GeneratedAt time.Time
	Location    *time.Location
	// BaseURL, when set, is the absolute base of the web pages, for links
	// back to tickets and drift items.
	BaseURL string
}

// DocTable is one table section of a documentation.
type DocTable struct {
	ID, Title string
	Columns   []string
	Rows      []DocRow
}

// DocRow is one row of a DocTable: the item's name, then the other cells.
type DocRow struct {
	Cells []string
	Error string
}

// DocFile is one file or command output, with its content when captured.
type DocFile struct {
	Key, Name string
	// Meta is the file's attributes in one line: "file 0644 root:root,
	// 3.2 KiB".
	Meta   string
	Digest string
	// Content is the redacted text; HasContent says it is known.
	Content    string
	HasContent bool
	Redacted   bool
	Error      string
}

// DocSections is a documentation's body, the same for HTML and Markdown.
type DocSections struct {
	Inventory Inventory
	Tables    []DocTable
	// Files are files with content, or digest only, after the file table.
	Files    []DocFile
	Commands []DocFile
}

func (d *HostDocumentation) loc() *time.Location {
	if d.Location == nil {
		return time.UTC
	}
	return d.Location
}

// Title returns the document's title: "web-01 — baseline v3".
func (d *HostDocumentation) Title() string {
	return d.Host.Name + " — baseline v" + strconv.Itoa(d.Meta.Version)
}

// Anchor is the document's element ID inside a tenant documentation.
func (d *HostDocumentation) Anchor() string {
	return "host-" + chartID(d.Host.ID, "x") + "-" + strconv.Itoa(d.Meta.Version)
}

// Format shows a time in the document's zone.
func (d *HostDocumentation) Format(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(d.loc()).Format("2006-01-02 15:04 MST")
}

// links returns the URL builder for links back, with ok false when the
// document has no base URL.
func (d *HostDocumentation) links() (Links, bool) {
	if d.BaseURL == "" {
		return Links{}, false
	}
	return NewLinks(d.BaseURL), true
}

// TicketURL returns the link of a ticket, "" when there is none.
func (d *HostDocumentation) TicketURL(t TicketRef) string {
	if l, ok := d.links(); ok && t.ID != "" {
		return l.Ticket(t.ID)
	}
	return safeExternalURL(t.ExternalURL)
}

// Sections prepares the documentation's sections from the snapshot.
func (d *HostDocumentation) Sections() DocSections {
	var s DocSections
	if d.Snapshot == nil {
		return s
	}
	s.Inventory = InventoryOf(d.Snapshot)
	services := DocTable{ID: "services", Title: "Services", Columns: []string{"Unit", "State", "Unit file", "Wanted by / alias of"}}
	packages := DocTable{ID: "packages", Title: "Packages", Columns: []string{"Package", "Version", "Architecture", "Manager", "Held"}}
	users := DocTable{ID: "users", Title: "Users", Columns: []string{"User", "UID", "GID", "Home", "Shell", "Groups", "Comment"}}
	groups := DocTable{ID: "groups", Title: "Groups", Columns: []string{"Group", "GID", "Members"}}
	ports := DocTable{ID: "ports", Title: "Listening ports", Columns: []string{"Port", "Addresses", "Process", "UID"}}
	sysctl := DocTable{ID: "sysctl", Title: "Kernel parameters", Columns: []string{"Parameter", "Value"}}
	files := DocTable{ID: "files", Title: "Configuration files", Columns: []string{"Path", "Type", "Mode", "Owner", "Size", "SHA-256"}}
	other := DocTable{ID: "other", Title: "Other items", Columns: []string{"Item", "Attributes"}}
	for i := range d.Snapshot.Items {
		it := &d.Snapshot.Items[i]
		get := func(n string) string { v, _ := it.Attrs.Get(n); return v }
		name := it.Name()
		row := func(cells ...string) DocRow { return DocRow{Cells: cells, Error: it.Error} }
		switch it.Kind() {
		case baseline.KindInventory:
		case baseline.KindService:
			extra := get("wanted_by")
			if a := get("alias_of"); a != "" {
				extra = "alias of " + a
			}
			services.Rows = append(services.Rows, row(name, get("state"), get("unit_file"), extra))
		case baseline.KindPackage:
			held := ""
			if get("hold") == "true" {
				held = "held"
			}
			packages.Rows = append(packages.Rows, row(name, get("version"), get("architecture"), get("manager"), held))
		case baseline.KindUser:
			users.Rows = append(users.Rows, row(name, get("uid"), get("gid"), get("home"), get("shell"), get("groups"), get("gecos")))
		case baseline.KindGroup:
			groups.Rows = append(groups.Rows, row(name, get("gid"), get("members")))
		case baseline.KindPort:
			ports.Rows = append(ports.Rows, row(name, get("addresses"), get("process"), get("uid")))
		case baseline.KindSysctl:
			sysctl.Rows = append(sysctl.Rows, row(name, get("value")))
		case baseline.KindFile:
			typ := get(baseline.AttrType)
			size := ""
			if n, err := strconv.ParseInt(get(baseline.AttrSize), 10, 64); err == nil && typ != "dir" {
				size = humanBytes(n)
			}
			digest := ""
			if !it.Digest.IsZero() {
				digest = it.Digest.Short()
			}
			shown := name
			if t := get(baseline.AttrTarget); t != "" {
				shown += " → " + t
			}
			files.Rows = append(files.Rows, row(shown, typ, get(baseline.AttrMode), ownerOf(it.Attrs), size, digest))
			if typ == "" || typ == "file" {
				s.Files = append(s.Files, d.docFile(it, strings.TrimSpace(strings.Join([]string{get(baseline.AttrMode), ownerOf(it.Attrs), size}, " "))))
			}
		case baseline.KindCommand:
			meta := get("argv")
			if st := get("exit_status"); st != "" && st != "0" {
				meta += ", exit status " + st
			}
			if get("truncated") == "true" {
				meta += ", output truncated"
			}
			s.Commands = append(s.Commands, d.docFile(it, meta))
		default:
			other.Rows = append(other.Rows, row(it.Key, attrSummary(it.Attrs)))
		}
	}
	for _, t := range []DocTable{services, packages, users, groups, ports, sysctl, files, other} {
		if len(t.Rows) > 0 {
			s.Tables = append(s.Tables, t)
		}
	}
	return s
}

func ownerOf(a baseline.Attrs) string {
	o, _ := a.Get(baseline.AttrOwner)
	if o == "" {
		o, _ = a.Get(baseline.AttrUID)
	}
	g, _ := a.Get(baseline.AttrGroup)
	if g == "" {
		g, _ = a.Get(baseline.AttrGID)
	}
	if g != "" {
		return o + ":" + g
	}
	return o
}

func (d *HostDocumentation) docFile(it *baseline.Item, meta string) DocFile {
	f := DocFile{Key: it.Key, Name: it.Name(), Meta: meta, Redacted: it.Redacted, Error: it.Error}
	if !it.Digest.IsZero() {
		f.Digest = it.Digest.String()
	}
	if !it.Content.IsZero() {
		if c, ok := d.Content[it.Content]; ok {
			f.Content, f.HasContent = c, true
		}
	}
	return f
}

// Kinds counts the snapshot's items by kind, for the summary.
func (d *HostDocumentation) Kinds() []KindCount {
	if d.Snapshot == nil {
		return nil
	}
	m := map[string]int{}
	for i := range d.Snapshot.Items {
		m[d.Snapshot.Items[i].Kind()]++
	}
	out := make([]KindCount, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, KindCount{Kind: k, Count: m[k]})
	}
	return out
}

// KindCount is the number of items of one kind.
type KindCount struct {
	Kind  string
	Count int
}

// TenantDocumentation is every host's baseline documentation of a tenant,
// in one document.
type TenantDocumentation struct {
	Tenant      TenantRef
	Hosts       []*HostDocumentation
	GeneratedAt time.Time
	Location    *time.Location
}

// Title returns the document's title.
func (t *TenantDocumentation) Title() string { return t.Tenant.Name + " — baseline documentation" }

// Format shows a time in the document's zone.
func (t *TenantDocumentation) Format(at time.Time) string {
	if at.IsZero() {
		return "—"
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	return at.In(loc).Format("2006-01-02 15:04 MST")
}

// SortedHosts returns the hosts by name.
func (t *TenantDocumentation) SortedHosts() []*HostDocumentation {
	hs := append([]*HostDocumentation(nil), t.Hosts...)
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Host.Name < hs[j].Host.Name })
	return hs
}

// HostDocPage is a host's or a tenant's documentation inside the web
// layout; exactly one of Host and Tenant is set.
type HostDocPage struct {
	Page
	Host   *HostDocumentation
	Tenant *TenantDocumentation
}

// Documentation renders documentation inside the web layout, with links to
// the Markdown and standalone forms.
func (r *Renderer) Documentation(w io.Writer, p *HostDocPage) error {
	title := "Documentation"
	switch {
	case p.Host != nil:
		title = p.Host.Title()
	case p.Tenant != nil:
		title = p.Tenant.Title()
	}
	return r.render(w, "documentation", p, "hosts", title)
}

// standaloneDoc is the data of a standalone document.
type standaloneDoc struct {
	Title  string
	CSS    any
	Host   *HostDocumentation
	Tenant *TenantDocumentation
}

// HostDocumentationHTML renders a host's documentation as one standalone
// HTML file: the style sheet inline, no script, no link to anything but
// the collector's pages. Serve it with StandaloneCSP.
func (r *Renderer) HostDocumentationHTML(w io.Writer, d *HostDocumentation) error {
	return r.renderStandalone(w, standaloneDoc{Title: d.Title(), CSS: r.docCSS, Host: d})
}

// TenantDocumentationHTML renders a tenant's documentation as one
// standalone HTML file.
func (r *Renderer) TenantDocumentationHTML(w io.Writer, d *TenantDocumentation) error {
	return r.renderStandalone(w, standaloneDoc{Title: d.Title(), CSS: r.docCSS, Tenant: d})
}

func (r *Renderer) renderStandalone(w io.Writer, data standaloneDoc) error {
	return r.execute(w, r.pages["doc-standalone"], "standalone", data, "documentation")
}
