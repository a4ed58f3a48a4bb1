package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/notify"
	"github.com/driftwatch/driftwatch/internal/hclconf"
)

// DefaultPath is where the collector looks for its configuration.
const DefaultPath = "/etc/driftwatch/collector.hcl"

// Defaults for values a configuration may leave out.
const (
	DefaultListen         = ":8443"
	DefaultDataDir        = "/var/lib/driftwatch-collector"
	DefaultSQLiteFile     = "driftwatch.db" // in the data directory
	DefaultMaxReportSize  = 64 << 20
	DefaultMaxBlobSize    = 16 << 20
	DefaultRequestTimeout = 30 * time.Second
)

// Store kinds, the labels of a store block.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Collector is the collector's configuration, parsed and validated: every
// default is filled in and every value has its final type.
type Collector struct {
	// ListenAddr is the address the API and web report listen on, as
	// host:port (":8443" listens on every interface).
	ListenAddr string
	// PublicURL is the URL agents and people reach the collector at; it
	// defaults to https://HOSTNAME:PORT with the port of ListenAddr (http
	// when Insecure).
	PublicURL *url.URL
	// DataDir holds the SQLite database and the self-signed TLS pair.
	DataDir string
	// Insecure serves plain HTTP; the server logs a warning.
	Insecure bool
	// TLS is the operator's certificate and key; nil means a self-signed
	// pair in DataDir (or none when Insecure).
	TLS *TLS
	// Store is the one store the collector keeps its data in.
	Store Store
	// Limits bound what one request may cost.
	Limits Limits
	// SMTP is the mail server digests and alerts go through; nil: the
	// collector sends no email.
	SMTP *notify.SMTPConfig
	// Notify holds the notification policy of each notify block, in the
	// order written, each with TenantName set to the block's label.
	Notify []notify.Policy
	// Connectors are the connector blocks, in the order written.
	Connectors []connector.Config
	// TrustedProxies are the proxies in front of the collector whose
	// X-Forwarded-For header the web report believes for the client's
	// address; none when empty. A bare address is a prefix of one.
	TrustedProxies []netip.Prefix

	// Path is the file the configuration was read from.
	Path string
	// Digest is the SHA-256 of the configuration file's bytes.
	Digest [32]byte
}

// TLS names the certificate and private key files the collector serves
// HTTPS with, both PEM and absolute.
type TLS struct {
	// CertFile is the certificate chain, leaf first.
	CertFile string
	// KeyFile is the leaf's private key.
	KeyFile string
}

// Store says where the collector keeps its data.
type Store struct {
	// Kind is StoreSQLite or StorePostgres.
	Kind string
	// Path is the SQLite database file, absolute; set for StoreSQLite only.
	Path string
	// DSN is the PostgreSQL connection URL (postgres://…); set for
	// StorePostgres only. It may hold a password: never log it whole.
	DSN string
}

// Limits bound the size and duration of requests.
type Limits struct {
	// MaxReportSize is the largest report body accepted, in bytes.
	MaxReportSize int64
	// MaxBlobSize is the largest content blob accepted, in bytes.
	MaxBlobSize int64
	// RequestTimeout bounds the handling of one request.
	RequestTimeout time.Duration
}

// file is the configuration as written, before validation.
type file struct {
	Listen     *string           `hcl:"listen,optional"`
	PublicURL  *string           `hcl:"public_url,optional"`
	DataDir    *string           `hcl:"data_dir,optional"`
	Insecure   bool              `hcl:"insecure,optional"`
	TLS        *tlsBlock         `hcl:"tls,block"`
	Stores     []*storeBlock     `hcl:"store,block"`
	Limits     *limitsBlock      `hcl:"limits,block"`
	SMTP       *smtpBlock        `hcl:"smtp,block"`
	Notify     []*notifyBlock    `hcl:"notify,block"`
	Connectors []*connectorBlock `hcl:"connector,block"`
	// TrustedProxies are CIDRs or addresses.
	TrustedProxies []string `hcl:"trusted_proxies,optional"`
}

type tlsBlock struct {
	CertFile string   `hcl:"cert_file,optional"`
	KeyFile  string   `hcl:"key_file,optional"`
	Body     hcl.Body `hcl:",body"`
}

// storeBlock keeps the body undecoded: which attributes it may have
// depends on its label.
type storeBlock struct {
	Kind string   `hcl:"kind,label"`
	Body hcl.Body `hcl:",remain"`
}

type sqliteBlock struct {
	Path string `hcl:"path,optional"`
}

type postgresBlock struct {
	DSN string `hcl:"dsn"`
}

type limitsBlock struct {
	MaxReportSize  string   `hcl:"max_report_size,optional"`
	MaxBlobSize    string   `hcl:"max_blob_size,optional"`
	RequestTimeout string   `hcl:"request_timeout,optional"`
	Body           hcl.Body `hcl:",body"`
}

// Load reads, parses and validates the configuration file at path. Problems
// in the file come back as a *DiagnosticsError that prints with
// file:line:col and the offending line.
func Load(path string) (*Collector, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read collector config %s: %w", path, err)
	}
	return Parse(src, path)
}

// Parse parses and validates a configuration held in memory; filename names
// it in messages. Every error is a *DiagnosticsError.
func Parse(src []byte, filename string) (*Collector, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	var raw file
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, &raw)...)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	cfg := &Collector{Path: filename, Digest: sha256.Sum256(src)}
	diags = append(diags, cfg.fill(&raw, f.Body)...)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Diags: diags, Files: p.Files()}
	}
	return cfg, nil
}

// DiagnosticsError carries HCL diagnostics and the files they point into;
// see hclconf.DiagnosticsError.
type DiagnosticsError = hclconf.DiagnosticsError

// AsDiagnostics returns err as a *DiagnosticsError when it is one.
func AsDiagnostics(err error) (*DiagnosticsError, bool) { return hclconf.AsDiagnostics(err) }

// fill validates raw and sets c from it, defaults included. root is the
// file's top-level body, for positions.
func (c *Collector) fill(raw *file, root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics

	c.ListenAddr = DefaultListen
	port := "8443"
	if raw.Listen != nil {
		_, p, err := net.SplitHostPort(*raw.Listen)
		if err == nil {
			err = checkPort(p)
		}
		if err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "listen"), "Invalid listen address",
				fmt.Sprintf("listen must be host:port or :port, such as %q, not %q: %v.", DefaultListen, *raw.Listen, err)))
		} else {
			c.ListenAddr, port = *raw.Listen, p
		}
	}

	c.Insecure = raw.Insecure
	if raw.PublicURL != nil {
		u, detail := parsePublicURL(*raw.PublicURL)
		if detail != "" {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "public_url"), "Invalid public_url", detail))
		}
		c.PublicURL = u
	} else {
		u, detail := defaultPublicURL(port, c.Insecure)
		if detail != "" {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "listen"), "Missing public_url", detail))
		}
		c.PublicURL = u
	}

	c.DataDir = DefaultDataDir
	if raw.DataDir != nil {
		if isAbs(*raw.DataDir) {
			c.DataDir = path.Clean(*raw.DataDir)
		} else {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "data_dir"), "Invalid data_dir",
				fmt.Sprintf("data_dir must be an absolute path, not %q.", *raw.DataDir)))
		}
	}

	if t := raw.TLS; t != nil {
		def := firstBlockRange(root, "tls")
		switch {
		case c.Insecure:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "insecure"), "Conflicting insecure and tls",
				fmt.Sprintf("insecure = true serves plain HTTP, so the tls block at %s cannot apply. Remove one of them.", rangeString(def))))
		case t.CertFile == "" && t.KeyFile == "":
			diags = append(diags, hclconf.ErrAt(def, "Incomplete tls block",
				"The tls block needs cert_file and key_file. Remove the block to serve a self-signed certificate from data_dir."))
		case t.CertFile == "" || t.KeyFile == "":
			missing := "cert_file"
			if t.KeyFile == "" {
				missing = "key_file"
			}
			diags = append(diags, hclconf.ErrAt(def, "Incomplete tls block",
				fmt.Sprintf("The tls block sets only one of cert_file and key_file; add %s.", missing)))
		default:
			d := checkAbs(t.Body, "cert_file", t.CertFile)
			d = append(d, checkAbs(t.Body, "key_file", t.KeyFile)...)
			diags = append(diags, d...)
			if !d.HasErrors() {
				c.TLS = &TLS{CertFile: path.Clean(t.CertFile), KeyFile: path.Clean(t.KeyFile)}
			}
		}
	}

	diags = append(diags, c.fillStore(raw.Stores, root)...)
	diags = append(diags, c.fillLimits(raw.Limits)...)
	diags = append(diags, c.fillSMTP(raw.SMTP, root)...)
	diags = append(diags, c.fillNotify(raw.Notify, root)...)
	diags = append(diags, c.fillConnectors(raw.Connectors, root)...)
	diags = append(diags, c.fillTrustedProxies(raw.TrustedProxies, root)...)
	return diags
}

// fillTrustedProxies parses trusted_proxies: CIDRs ("10.0.0.0/8") or
// single addresses.
func (c *Collector) fillTrustedProxies(ps []string, root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, s := range ps {
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
			if err == nil && p != p.Masked() {
				err = fmt.Errorf("host bits are set; the network is %s", p.Masked())
			}
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(root, "trusted_proxies"), "Invalid trusted_proxies",
				fmt.Sprintf("Entry %d, %q, must be a CIDR such as \"10.0.0.0/8\" or an address such as \"192.0.2.10\": %v.", i+1, s, err)))
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// The web report compares IPv4 clients as IPv4.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	return diags
}

// fillStore checks that there is at most one store block, of a known kind,
// and decodes it; no block means SQLite in the data directory.
func (c *Collector) fillStore(stores []*storeBlock, root hcl.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	blocks := syntaxBlocks(root, "store")
	for i := 1; i < len(stores) && i < len(blocks); i++ {
		r := blocks[i].DefRange()
		diags = append(diags, hclconf.ErrAt(&r, "Duplicate store block",
			fmt.Sprintf("Only one store block is allowed; the first is at %s.", rangeString(rangePtr(blocks[0].DefRange())))))
	}
	if len(stores) == 0 {
		c.Store = Store{Kind: StoreSQLite, Path: path.Join(c.DataDir, DefaultSQLiteFile)}
		return diags
	}
	s := stores[0]
	var label *hcl.Range
	if len(blocks) > 0 && len(blocks[0].LabelRanges) > 0 {
		label = rangePtr(blocks[0].LabelRanges[0])
	}
	switch s.Kind {
	case StoreSQLite:
		var b sqliteBlock
		d := gohcl.DecodeBody(s.Body, nil, &b)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		c.Store = Store{Kind: StoreSQLite, Path: path.Join(c.DataDir, DefaultSQLiteFile)}
		if b.Path != "" {
			d := checkAbs(s.Body, "path", b.Path)
			diags = append(diags, d...)
			c.Store.Path = path.Clean(b.Path)
		}
	case StorePostgres:
		var b postgresBlock
		d := gohcl.DecodeBody(s.Body, nil, &b)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		if detail := checkDSN(b.DSN); detail != "" {
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(s.Body, "dsn"), "Invalid dsn", detail))
		}
		c.Store = Store{Kind: StorePostgres, DSN: b.DSN}
	default:
		diags = append(diags, hclconf.ErrAt(label, "Unknown store type",
			fmt.Sprintf("Store type %q is not supported; use %q or %q.", s.Kind, StoreSQLite, StorePostgres)))
	}
	return diags
}

// fillLimits parses the limits, each positive, with defaults for those
// left out.
func (c *Collector) fillLimits(l *limitsBlock) hcl.Diagnostics {
	c.Limits = Limits{MaxReportSize: DefaultMaxReportSize, MaxBlobSize: DefaultMaxBlobSize, RequestTimeout: DefaultRequestTimeout}
	if l == nil {
		return nil
	}
	var diags hcl.Diagnostics
	size := func(name, v string, dst *int64) {
		if v == "" {
			return
		}
		n, err := hclconf.ParseSize(v)
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(l.Body, name), "Invalid size", err.Error()+"."))
		case n <= 0:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(l.Body, name), "Invalid size", fmt.Sprintf("%s must be positive, not %q.", name, v)))
		default:
			*dst = n
		}
	}
	size("max_report_size", l.MaxReportSize, &c.Limits.MaxReportSize)
	size("max_blob_size", l.MaxBlobSize, &c.Limits.MaxBlobSize)
	if l.RequestTimeout != "" {
		d, err := hclconf.ParseDuration(l.RequestTimeout)
		switch {
		case err != nil:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(l.Body, "request_timeout"), "Invalid duration", err.Error()+"."))
		case d <= 0:
			diags = append(diags, hclconf.ErrAt(hclconf.AttrRange(l.Body, "request_timeout"), "Invalid duration", fmt.Sprintf("request_timeout must be positive, not %q.", l.RequestTimeout)))
		default:
			c.Limits.RequestTimeout = d
		}
	}
	return diags
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return nil
}

// parsePublicURL accepts an absolute http or https URL with a host, and
// no user info, query or fragment: it is the base of every link. When s is
// not acceptable, detail says why.
func parsePublicURL(s string) (u *url.URL, detail string) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Sprintf("public_url %q is not a URL: %v.", s, urlErr(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Sprintf("public_url must be an absolute http:// or https:// URL such as \"https://drift.example.com:8443\", not %q.", s)
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Sprintf("public_url %q has no host.", s)
	case u.User != nil:
		return nil, fmt.Sprintf("public_url %q must not hold a user name or password.", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Sprintf("public_url %q must not have a query or fragment.", s)
	}
	if _, p, err := net.SplitHostPort(u.Host); err == nil {
		if err := checkPort(p); err != nil {
			return nil, fmt.Sprintf("public_url %q: %v.", s, err)
		}
	}
	return u, ""
}

// defaultPublicURL is https://HOSTNAME:PORT (http:// when insecure). When
// there is none, detail says why.
func defaultPublicURL(port string, insecure bool) (u *url.URL, detail string) {
	if port == "0" {
		return nil, "listen uses port 0, a port chosen at start, so public_url cannot be guessed; set public_url."
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	scheme := "https"
	if insecure {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(strings.ToLower(host), port)}, ""
}

// checkDSN accepts a postgres:// or postgresql:// URL; when dsn is not one,
// detail says why. Messages never show the DSN, which may hold a password.
func checkDSN(dsn string) (detail string) {
	const example = "postgres://user@host/db?sslmode=verify-full"
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Sprintf("dsn must be a URL such as %q; it is not (%v). The value is not shown, as it may hold a password.", example, urlErr(err))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Sprintf("dsn must be a postgres:// or postgresql:// URL such as %q, not a %q one.", example, u.Scheme)
	}
	return ""
}

// urlErr strips the URL, which may hold a password, from url.Parse's error.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func checkAbs(body hcl.Body, name, value string) hcl.Diagnostics {
	if isAbs(value) {
		return nil
	}
	return hcl.Diagnostics{hclconf.ErrAt(hclconf.AttrRange(body, name), "Invalid path", fmt.Sprintf("%s must be an absolute path, not %q.", name, value))}
}

// isAbs reports whether p is an absolute slash path; the collector runs on
// Linux.
func isAbs(p string) bool { return strings.HasPrefix(p, "/") }

func rangePtr(r hcl.Range) *hcl.Range { return &r }

// rangeString names a place as file:line:col, or "an earlier block" when
// it is not known.
func rangeString(r *hcl.Range) string {
	if r == nil {
		return "an earlier block"
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// syntaxBlocks returns root's blocks of type typ, in source order.
func syntaxBlocks(root hcl.Body, typ string) []*hclsyntax.Block {
	sb, ok := root.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []*hclsyntax.Block
	for _, b := range sb.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// firstBlockRange returns where the header of root's first block of type
// typ is.
func firstBlockRange(root hcl.Body, typ string) *hcl.Range {
	if bs := syntaxBlocks(root, typ); len(bs) > 0 {
		return rangePtr(bs[0].DefRange())
	}
	return nil
}
