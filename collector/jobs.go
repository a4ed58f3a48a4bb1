package collector

import (
	"context"

	"go.uber.org/zap"
)

// startJobs starts the collector's background work until ctx ends: with
// an smtp block, the notifier, which sends the scheduled digests, the
// level 3 alerts and level 2 summaries of the notify blocks and of the
// settings stored through the API (read at every tick), one message per
// recipient, and drains the outbox (in every collector at once: the store makes each email go
// out once). wait stops the work and waits for it to finish; it is safe
// to call when ctx has not ended, as when serving failed.
func (c *Collector) startJobs(ctx context.Context) (wait func(), err error) {
	if c.cfg.SMTP == nil {
		c.log.Info("no smtp block: the collector sends no email")
		return func() {}, nil
	}
	log := c.log.Named("notify")
	n, err := NewNotifier(c.cfg, c.store, NotifyOptions{Log: log})
	if err != nil {
		return nil, err
	}
	tenants := make([]string, 0, len(c.cfg.Notify))
	for _, p := range c.cfg.Notify {
		tenants = append(tenants, p.TenantName)
	}
	log.Info("notifier started", zap.String("smtp", c.cfg.SMTP.Host), zap.Strings("tenants", tenants), zap.String("owner", n.Owner()))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Run(ctx) // returns nil when ctx ends; a tick's errors are logged
		log.Info("notifier stopped")
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
