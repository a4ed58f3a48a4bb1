package collector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/api"
	"github.com/driftwatch/driftwatch/collector/internal/changes"
	"github.com/driftwatch/driftwatch/collector/internal/connector"
	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// connectorReload is how often a collector reads the connectors
// configured through the API again, so that one added, changed or
// deleted on another collector is picked up without a restart.
const connectorReload = 30 * time.Second

// SecretsKeyFile is where the collector keeps the key that seals
// credentials given through the API: under the data directory. Every
// collector sharing a store needs a copy of the same file.
func SecretsKeyFile(dataDir string) string { return filepath.Join(dataDir, connector.KeyFileName) }

// startConnectors starts the change-source connectors until ctx ends and
// mounts their webhook routes on mux. A send on kick (buffered) makes it
// read the connectors of the store again at once, as the API does after a
// change; sealer opens the credentials given through the API. wait stops
// them and waits.
//
// Every connector of the configuration file is registered in the store
// (read-only through the API); the connectors configured through the API
// are read from the store now and every connectorReload. Each gets a
// Syncer that polls while this collector holds its lease, and, for the
// webhook and jira kinds, a webhook at POST /api/v1/webhooks/{name}.
func (c *Collector) startConnectors(ctx context.Context, mux *http.ServeMux, sealer *connector.Sealer, kick chan struct{}) (wait func(), err error) {
	log := c.log.Named("connector")
	r := &connectors{
		store:   c.store,
		log:     log,
		sealer:  sealer,
		owner:   processOwner(),
		manager: &changes.Manager{Store: c.store, Log: c.log.Named("changes")},
		static:  c.cfg.Connectors,
		kick:    kick,
		running: map[string]*runningConnector{},
	}
	r.registered = make([]string, len(r.static))
	mux.Handle("POST "+api.PathWebhooks+"{connector}", http.HandlerFunc(r.serveWebhook))
	ctx, cancel := context.WithCancel(ctx)
	r.ctx = ctx
	r.reload(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(connectorReload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-r.kick:
			}
			r.reload(ctx)
		}
	}()
	return func() {
		cancel()
		<-done
		r.stopAll()
		log.Info("connectors stopped")
	}, nil
}

// processOwner names this collector process in connector leases.
func processOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// connectorSealer loads the key that seals connector credentials given
// through the API, creating it on first use.
func (c *Collector) connectorSealer() (*connector.Sealer, error) {
	sealer, err := connector.LoadSealer(SecretsKeyFile(c.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("connectors: %w", err)
	}
	return sealer, nil
}

// connectors runs the collector's connectors.
type connectors struct {
	store   store.Store
	log     *zap.Logger
	sealer  *connector.Sealer
	owner   string
	manager *changes.Manager
	// static are the configuration file's connectors; registered[i] is
	// the tenant ID of static[i] once it is registered in the store.
	static     []connector.Config
	registered []string
	kick       chan struct{}
	ctx        context.Context

	mu      sync.RWMutex
	running map[string]*runningConnector
}

// runningConnector is one started connector.
type runningConnector struct {
	// fingerprint identifies the configuration it runs with.
	fingerprint string
	webhook     *connector.Webhook
	cancel      context.CancelFunc
	done        chan struct{}
}

// wanted is a connector that should run.
type wanted struct {
	cfg         connector.Config
	tenantID    string
	fingerprint string
}

// reload registers the configuration file's connectors not registered
// yet, reads the API's, and starts, restarts and stops connectors to
// match.
func (r *connectors) reload(ctx context.Context) {
	want := map[string]wanted{}
	for i, cfg := range r.static {
		if r.registered[i] == "" {
			tid, err := r.register(ctx, cfg)
			if err != nil {
				r.log.Error("connector not started", zap.String("connector", cfg.Name), zap.Error(err))
				continue
			}
			r.registered[i] = tid
		}
		want[cfg.Name] = wanted{cfg: cfg, tenantID: r.registered[i], fingerprint: "config"}
	}
	rows, err := r.store.ListConnectors(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("connectors not read; the running ones keep running", zap.Error(err))
		}
		return
	}
	for _, row := range rows {
		if row.Source != store.ConnectorFromAPI {
			continue
		}
		if _, dup := want[row.Name]; dup {
			continue
		}
		cfg, err := r.fromStore(row)
		if err != nil {
			r.log.Error("connector not started", zap.String("connector", row.Name), zap.Error(err))
			continue
		}
		sum := sha256.New()
		sum.Write([]byte(row.TenantID + "\x00"))
		sum.Write(row.Config)
		sum.Write([]byte{0})
		sum.Write(row.Secret)
		want[row.Name] = wanted{cfg: cfg, tenantID: row.TenantID, fingerprint: hex.EncodeToString(sum.Sum(nil))}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, rc := range r.running {
		if w, ok := want[name]; !ok || w.fingerprint != rc.fingerprint {
			rc.cancel()
			<-rc.done
			delete(r.running, name)
			r.log.Info("connector stopped", zap.String("connector", name))
		}
	}
	for name, w := range want {
		if _, ok := r.running[name]; ok {
			continue
		}
		rc, err := r.start(w)
		if err != nil {
			r.log.Error("connector not started", zap.String("connector", name), zap.Error(err))
			continue
		}
		r.running[name] = rc
	}
}

// register stores a configuration-file connector and returns its
// tenant's ID.
func (r *connectors) register(ctx context.Context, cfg connector.Config) (string, error) {
	t, err := r.store.TenantByName(ctx, cfg.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no tenant named %q; create it, the connector starts within %s", cfg.Tenant, connectorReload)
	}
	if err != nil {
		return "", err
	}
	doc, err := json.Marshal(connector.ToAPI(cfg, cfg.Tenant))
	if err != nil {
		return "", err
	}
	now := time.Now()
	err = r.store.RegisterConnector(ctx, store.Connector{Name: cfg.Name, TenantID: t.ID, Kind: cfg.Kind,
		Source: store.ConnectorFromConfig, Config: doc, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, store.ErrExists) {
		return "", fmt.Errorf("a connector configured through the API has the name %q; rename one of them", cfg.Name)
	}
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// fromStore is the configuration of an API connector, credentials
// opened.
func (r *connectors) fromStore(row store.Connector) (connector.Config, error) {
	var a api.Connector
	if err := json.Unmarshal(row.Config, &a); err != nil {
		return connector.Config{}, fmt.Errorf("stored configuration: %w", err)
	}
	a.Name = row.Name
	cfg, err := connector.FromAPI(a)
	if err != nil {
		return connector.Config{}, fmt.Errorf("stored configuration: %w", err)
	}
	if len(row.Secret) > 0 {
		creds, err := r.sealer.Open(row.Name, row.Secret)
		if err != nil {
			return connector.Config{}, err
		}
		cfg.Credentials = connector.CredentialSource{Inline: &creds}
	}
	return cfg, nil
}

// start starts one connector: its poll loop, unless it is a webhook, and
// its webhook for the kinds that take deliveries.
func (r *connectors) start(w wanted) (*runningConnector, error) {
	// The syncer and the webhook name the connector in their lines.
	log := r.log
	opts := connector.Options{Log: log}
	src, err := connector.New(w.cfg, opts)
	if err != nil {
		return nil, err
	}
	sy := &connector.Syncer{
		Source: src, TenantID: w.tenantID,
		Tickets: connector.ManagerTickets{Manager: r.manager},
		State:   connector.StoreState{Store: r.store},
		Poll:    w.cfg.Poll,
		Log:     log,
		Lease:   connector.StoreLease{Store: r.store, Owner: r.owner},
	}
	rc := &runningConnector{fingerprint: w.fingerprint, done: make(chan struct{})}
	if w.cfg.Kind == connector.KindWebhook || w.cfg.Kind == connector.KindJira {
		rc.webhook = &connector.Webhook{Config: w.cfg, Syncer: sy, Options: opts}
	}
	ctx, cancel := context.WithCancel(r.ctx)
	rc.cancel = cancel
	if w.cfg.Kind == connector.KindWebhook {
		close(rc.done)
	} else {
		go func() {
			defer close(rc.done)
			_ = sy.Run(ctx) // returns ctx's error; a poll's errors are in its status
		}()
	}
	log.Info("connector started", zap.String("connector", w.cfg.Name), zap.String("kind", w.cfg.Kind), zap.String("tenant", w.cfg.Tenant), zap.Duration("poll", w.cfg.Poll))
	return rc, nil
}

// stopAll stops every connector and waits for them.
func (r *connectors) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, rc := range r.running {
		rc.cancel()
		<-rc.done
		delete(r.running, name)
	}
}

// serveWebhook hands a delivery to its connector's webhook.
func (r *connectors) serveWebhook(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("connector")
	r.mu.RLock()
	rc := r.running[name]
	r.mu.RUnlock()
	if rc == nil || rc.webhook == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(api.Error{Error: fmt.Sprintf("no webhook connector named %q runs here", name)})
		return
	}
	rc.webhook.ServeHTTP(w, req)
}
