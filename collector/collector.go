package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/config"
	"github.com/driftwatch/driftwatch/collector/internal/server"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/collector/internal/store/postgres"
	"github.com/driftwatch/driftwatch/collector/internal/store/sqlite"
	"github.com/driftwatch/driftwatch/collector/internal/tlsutil"
)

// ShutdownTimeout bounds how long Serve waits for requests in flight when
// it is told to stop.
const ShutdownTimeout = 30 * time.Second

// Collector is the collector as a library: its configuration and open
// store.
type Collector struct {
	cfg   *config.Collector
	log   *zap.Logger
	store store.Store
}

// Open opens the configured store, applying its migrations.
func Open(ctx context.Context, cfg *config.Collector, log *zap.Logger) (*Collector, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, log: log, store: st}, nil
}

// OpenStore opens the store a configuration names.
func OpenStore(ctx context.Context, cfg *config.Collector) (store.Store, error) {
	switch cfg.Store.Kind {
	case "postgres":
		return postgres.Open(ctx, cfg.Store.DSN)
	default:
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return sqlite.Open(ctx, cfg.Store.Path)
	}
}

// Migrate applies the store's migrations and returns the ones applied.
func Migrate(ctx context.Context, cfg *config.Collector) ([]string, error) {
	switch cfg.Store.Kind {
	case "postgres":
		return postgres.Migrate(ctx, cfg.Store.DSN)
	default:
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		return sqlite.Migrate(ctx, cfg.Store.Path)
	}
}

// Store returns the collector's store.
func (c *Collector) Store() store.Store { return c.store }

// Close closes the store.
func (c *Collector) Close() error { return c.store.Close() }

// TLSFiles returns the certificate and key the collector serves: the
// configured ones, or a self-signed pair made once in the data directory.
func TLSFiles(cfg *config.Collector) (certFile, keyFile string, err error) {
	if cfg.TLS != nil {
		return cfg.TLS.CertFile, cfg.TLS.KeyFile, nil
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if cfg.PublicURL != nil && cfg.PublicURL.Hostname() != "" {
		hosts = append([]string{cfg.PublicURL.Hostname()}, hosts...)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("tls: %w", err)
	}
	return tlsutil.EnsureSelfSigned(cfg.DataDir, hosts, time.Now())
}

// Fingerprint returns the SHA-256 fingerprint of the certificate the
// collector serves, which agents pin.
func Fingerprint(cfg *config.Collector) (string, error) {
	cert, _, err := TLSFiles(cfg)
	if err != nil {
		return "", err
	}
	return tlsutil.FingerprintFile(cert)
}

// Serve serves the API on the configured address until ctx ends, then
// stops accepting connections and waits up to ShutdownTimeout for requests
// in flight. ready, if not nil, is called with the address listened on.
func (c *Collector) Serve(ctx context.Context, ready func(addr string)) error {
	sealer, err := c.connectorSealer()
	if err != nil {
		return err
	}
	kick := make(chan struct{}, 1)
	srv := server.New(server.Options{Store: c.store, Log: c.log.Named("api"),
		MaxReportSize: c.cfg.Limits.MaxReportSize, MaxBlobSize: c.cfg.Limits.MaxBlobSize,
		ConnectorSealer: sealer, ConnectorsChanged: func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	if err := c.mountWeb(mux); err != nil {
		return err
	}
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	wait, err := c.startJobs(jobsCtx)
	if err != nil {
		return err
	}
	defer wait()
	waitConnectors, err := c.startConnectors(jobsCtx, mux, sealer, kick)
	if err != nil {
		return err
	}
	defer waitConnectors()
	promoted := make(chan struct{})
	go func() {
		defer close(promoted)
		c.autoPromote(jobsCtx)
	}()
	defer func() { stopJobs(); <-promoted }()
	hs := &http.Server{
		Handler:           http.TimeoutHandler(mux, c.cfg.Limits.RequestTimeout, `{"error":"request timed out"}`),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(c.log.Named("http")),
	}
	ln, err := net.Listen("tcp", c.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if c.cfg.Insecure {
		c.log.Warn("serving plain HTTP: agent credentials and reports cross the network unencrypted; set a tls block or remove insecure = true",
			zap.String("listen", ln.Addr().String()))
	} else {
		certFile, keyFile, err := TLSFiles(c.cfg)
		if err != nil {
			ln.Close()
			return err
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("serve: load certificate %s: %w", certFile, err)
		}
		fp, err := tlsutil.FingerprintFile(certFile)
		if err != nil {
			ln.Close()
			return err
		}
		c.log.Info("TLS certificate", zap.String("cert_file", certFile), zap.String("fingerprint", fp))
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	c.log.Info("collector listening", zap.String("listen", ln.Addr().String()), zap.String("public_url", c.cfg.PublicURL.String()),
		zap.String("store", c.cfg.Store.Kind))
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	c.log.Info("shutting down; waiting for requests in flight", zap.Duration("bound", ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
