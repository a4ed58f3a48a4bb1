package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// maxDocContent is the largest file content a documentation includes;
// larger content is documented by its digest.
const maxDocContent = 256 << 10

// hostDocumentation is a host's baseline documentation: version v (0:
// the current one) with its content and the changes since the previous
// version.
func (h *Handler) hostDocumentation(ctx context.Context, lk *lookup, t store.Tenant, hs store.Host, v int) (*reporter.HostDocumentation, error) {
	b, snap, err := h.loadBaseline(ctx, t.ID, hs.ID, v)
	if err != nil {
		return nil, err
	}
	d := &reporter.HostDocumentation{Tenant: reporter.TenantRef{ID: t.ID, Name: t.Name}, Host: hostRef(hs, t), Labels: hs.Labels,
		Meta: b.Meta, Snapshot: snap, Content: map[baseline.Digest]string{}, GeneratedAt: h.now(), Location: h.loc(ctx)}
	if h.opt.PublicURL != "" {
		d.BaseURL = h.opt.PublicURL + h.base
	}
	for i := range snap.Items {
		it := &snap.Items[i]
		if it.Content.IsZero() {
			continue
		}
		if _, ok := d.Content[it.Content]; ok {
			continue
		}
		c, err := h.st.Blob(ctx, t.ID, it.Content)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(c) <= maxDocContent && utf8.Valid(c) {
			d.Content[it.Content] = string(c)
		}
	}
	if b.Meta.Version > 1 {
		_, prev, err := h.loadBaseline(ctx, t.ID, hs.ID, b.Meta.Version-1)
		if err != nil {
			return nil, err
		}
		d.PreviousVersion = b.Meta.Version - 1
		if d.Changes, err = h.docChanges(ctx, lk, t, hs, b.Meta, prev, snap); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// docChanges is the appendix of a baseline version: each change from the
// previous version, with the drift item it was accepted from when there
// is one (when it was first seen, its verdict, who accepted it).
func (h *Handler) docChanges(ctx context.Context, lk *lookup, t store.Tenant, hs store.Host, m baseline.Meta, prev, cur *baseline.Snapshot) ([]reporter.DocChange, error) {
	drift := baseline.Diff(prev, cur, baseline.DiffOptions{Blobs: storeBlobs{ctx, h.st, t.ID}})
	items, _, err := h.st.DriftItems(ctx, t.ID, store.DriftFilter{HostIDs: []string{hs.ID},
		Statuses: []string{store.DriftPromoted}, Until: m.ApprovedAt.Add(1), Limit: store.MaxPageSize})
	if err != nil {
		return nil, err
	}
	promoted := map[string]store.DriftItem{}
	for _, di := range items {
		if di.ResolvedAt.Equal(m.ApprovedAt) {
			promoted[di.Key] = di
		}
	}
	var tickets []reporter.TicketRef
	for _, ref := range m.Tickets {
		tk, err := lk.ticket(t.ID, ref)
		if err != nil {
			return nil, err
		}
		if tk != nil {
			tickets = append(tickets, ticketRef(tk))
		} else {
			tickets = append(tickets, reporter.TicketRef{Ref: ref})
		}
	}
	out := make([]reporter.DocChange, 0, len(drift.Changes))
	for _, c := range drift.Changes {
		dc := reporter.DocChange{Key: c.Key, Change: c.Change, Summary: changeSummary(c), Tickets: tickets,
			At: m.ApprovedAt, AcceptedBy: m.ApprovedBy, Diff: c.ContentDiff}
		if di, ok := promoted[c.Key]; ok {
			dc.At, dc.Verdict, dc.AcceptedBy = di.FirstSeen, reporter.Verdict(di.Verdict), di.ResolvedBy
		}
		out = append(out, dc)
	}
	return out, nil
}

// docHost finds the host of a documentation route and the version asked
// for (?version=, 0 for the current one).
func (h *Handler) docHost(r *http.Request, p *principal) (store.Host, store.Tenant, int, error) {
	hs, t, err := searchTenants(r, p, func(ctx context.Context, tenantID string) (store.Host, error) {
		return h.st.Host(ctx, tenantID, r.PathValue("host"))
	})
	if err != nil {
		return hs, t, 0, err
	}
	v := 0
	if s := r.URL.Query().Get("version"); s != "" {
		if v, err = strconv.Atoi(s); err != nil || v < 1 {
			return hs, t, 0, badRequest("version: give a baseline version number such as 3")
		}
	}
	if hs.BaselineVersion == 0 {
		return hs, t, 0, &httpError{status: http.StatusNotFound, msg: "The host has no approved baseline yet; approve one with the agent (driftwatch-agent baseline approve)."}
	}
	return hs, t, v, nil
}

// hostDoc serves a host's documentation inside the web report, printable.
func (h *Handler) hostDoc(w http.ResponseWriter, r *http.Request, p *principal) error {
	hs, t, v, err := h.docHost(r, p)
	if err != nil {
		return err
	}
	d, err := h.hostDocumentation(r.Context(), h.lookup(r.Context()), t, hs, v)
	if err != nil {
		return err
	}
	page := &reporter.HostDocPage{Host: d}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Documentation(out, page) })
}

// hostDocMarkdown serves a host's documentation as a Markdown download.
func (h *Handler) hostDocMarkdown(w http.ResponseWriter, r *http.Request, p *principal) error {
	hs, t, v, err := h.docHost(r, p)
	if err != nil {
		return err
	}
	d, err := h.hostDocumentation(r.Context(), h.lookup(r.Context()), t, hs, v)
	if err != nil {
		return err
	}
	return download(w, "text/markdown; charset=utf-8", docName(hs.Name, d.Meta.Version, "md"), func(out io.Writer) error {
		return reporter.WriteHostMarkdown(out, d)
	})
}

// hostDocHTML serves a host's documentation as one standalone HTML file.
func (h *Handler) hostDocHTML(w http.ResponseWriter, r *http.Request, p *principal) error {
	hs, t, v, err := h.docHost(r, p)
	if err != nil {
		return err
	}
	d, err := h.hostDocumentation(r.Context(), h.lookup(r.Context()), t, hs, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", h.r.StandaloneCSP())
	return download(w, "text/html; charset=utf-8", docName(hs.Name, d.Meta.Version, "html"), func(out io.Writer) error {
		return h.r.HostDocumentationHTML(out, d)
	})
}

// docName is a documentation's download file name.
func docName(name string, version int, ext string) string {
	return fmt.Sprintf("%s-baseline-v%d.%s", fileSafe(name), version, ext)
}

// download sends a rendered document as an attachment; on a rendering
// error it sends nothing.
func download(w http.ResponseWriter, contentType, filename string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	_, err := w.Write(buf.Bytes())
	return err
}

// tenantDocumentation is every host's current baseline documentation of
// a tenant.
func (h *Handler) tenantDocumentation(r *http.Request, p *principal) (*reporter.TenantDocumentation, store.Tenant, error) {
	t, ok := p.tenant(r.PathValue("tenant"))
	if !ok {
		return nil, t, notFound()
	}
	ctx := r.Context()
	lk := h.lookup(ctx)
	hs, _, err := lk.hostsOf(t.ID)
	if err != nil {
		return nil, t, err
	}
	d := &reporter.TenantDocumentation{Tenant: reporter.TenantRef{ID: t.ID, Name: t.Name}, GeneratedAt: h.now(), Location: h.loc(ctx)}
	for _, x := range hs {
		if x.BaselineVersion == 0 {
			continue
		}
		hd, err := h.hostDocumentation(ctx, lk, t, x, 0)
		if err != nil {
			return nil, t, err
		}
		d.Hosts = append(d.Hosts, hd)
	}
	return d, t, nil
}

// tenantDoc serves a tenant's documentation inside the web report.
func (h *Handler) tenantDoc(w http.ResponseWriter, r *http.Request, p *principal) error {
	d, t, err := h.tenantDocumentation(r, p)
	if err != nil {
		return err
	}
	page := &reporter.HostDocPage{Tenant: d}
	page.Page = h.basePage(w, r, p, t.ID)
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Documentation(out, page) })
}

// tenantDocMarkdown serves a tenant's documentation as Markdown.
func (h *Handler) tenantDocMarkdown(w http.ResponseWriter, r *http.Request, p *principal) error {
	d, t, err := h.tenantDocumentation(r, p)
	if err != nil {
		return err
	}
	return download(w, "text/markdown; charset=utf-8", fileSafe(t.Name)+"-baseline-documentation.md", func(out io.Writer) error {
		return reporter.WriteTenantMarkdown(out, d)
	})
}

// tenantDocHTML serves a tenant's documentation as standalone HTML.
func (h *Handler) tenantDocHTML(w http.ResponseWriter, r *http.Request, p *principal) error {
	d, t, err := h.tenantDocumentation(r, p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", h.r.StandaloneCSP())
	return download(w, "text/html; charset=utf-8", fileSafe(t.Name)+"-baseline-documentation.html", func(out io.Writer) error {
		return h.r.TenantDocumentationHTML(out, d)
	})
}
