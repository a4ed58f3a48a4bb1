package collector

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/driftwatch/driftwatch/collector/internal/changes"
)

// autoPromoteEvery is how often the collector looks for closed windows
// whose authorized drift is to become the new baseline.
const autoPromoteEvery = time.Minute

// autoPromote runs changes.Manager.AutoPromote for every tenant until ctx
// ends.
func (c *Collector) autoPromote(ctx context.Context) {
	m := &changes.Manager{Store: c.store, Log: c.log.Named("changes")}
	t := time.NewTicker(autoPromoteEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tenants, err := c.store.Tenants(ctx)
		if err != nil {
			c.log.Warn("auto-promotion: tenants", zap.Error(err))
			continue
		}
		for _, tn := range tenants {
			ps, err := m.AutoPromote(ctx, tn.ID)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("auto-promotion failed", zap.String("tenant", tn.Name), zap.Error(err))
			}
			for _, p := range ps {
				c.log.Info("auto-promoted", zap.String("tenant", tn.Name), zap.String("host", p.Host), zap.Int("baseline_version", p.Version), zap.Int("items", p.Items))
			}
		}
	}
}
