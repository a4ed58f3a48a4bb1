package collector

import (
	"net/http"

	"github.com/driftwatch/driftwatch/collector/internal/web"
	"github.com/driftwatch/driftwatch/reporter"
)

// mountWeb adds the web report to the collector's handler: the pages
// under reporter.DefaultBasePath, and a redirect to them from the root.
func (c *Collector) mountWeb(mux *http.ServeMux) error {
	opt := web.Options{Store: c.store, Log: c.log.Named("web"), SecureCookies: !c.cfg.Insecure, TrustedProxies: c.cfg.TrustedProxies}
	opt.NotifyPolicies = &TenantPolicies{Config: c.cfg.Notify, Store: c.store, Log: c.log.Named("notify")}
	if u := c.cfg.PublicURL; u != nil {
		opt.PublicURL = u.Scheme + "://" + u.Host
		opt.SecureCookies = opt.SecureCookies || u.Scheme == "https"
	}
	h, err := web.New(opt)
	if err != nil {
		return err
	}
	base := h.BasePath()
	mux.Handle(base+"/", h)
	mux.Handle("GET "+base, http.RedirectHandler(base+"/", http.StatusSeeOther))
	mux.Handle("GET /{$}", http.RedirectHandler(reporter.DefaultBasePath+"/", http.StatusSeeOther))
	return nil
}
