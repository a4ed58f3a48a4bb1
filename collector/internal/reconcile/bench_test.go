package reconcile

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/driftwatch/driftwatch/baseline"
	"github.com/driftwatch/driftwatch/collector/internal/policy"
	"github.com/driftwatch/driftwatch/collector/internal/ticket"
)

// world is a generated tenant: hosts with labels, tickets of every kind
// and state, and drift over a month.
type world struct {
	pol     policy.Policy
	hosts   []Host
	tickets []*ticket.Ticket
	items   []Item
}

var (
	roles    = []string{"web", "db", "cache", "app", "lb", "mq", "mail", "dns", "k8s", "ci"}
	envs     = []string{"prod", "prod", "staging", "dev"}
	sites    = []string{"ams", "fra", "nyc", "sgp"}
	services = []string{"nginx", "apache2", "postgresql", "redis", "haproxy", "rabbitmq", "postfix", "bind9", "kubelet", "jenkins", "chrony", "rsyslog"}
	packages = []string{"openssl", "libssl3", "curl", "nginx", "postgresql-16", "redis-server", "linux-image-6.8", "openssh-server", "sudo", "bash", "libc6", "python3"}
	users    = []string{"deploy", "backup", "monitor", "alice", "bob", "jenkins"}
	zones    = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"}
	weights  = []struct {
		state ticket.State
		pct   int
	}{
		{ticket.Draft, 5}, {ticket.Submitted, 8}, {ticket.Reviewed, 7}, {ticket.Approved, 25}, {ticket.Implementing, 10},
		{ticket.Implemented, 20}, {ticket.Documented, 15}, {ticket.Rejected, 5}, {ticket.Cancelled, 5},
	}
)

var month = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// newWorld generates a world with a fixed seed: 90% of the tickets scoped
// to one to three named hosts, 8% to labels, 1.5% to a host glob and 0.5%
// to every host; item patterns of every form; drift of which a third falls
// in some ticket's scope and around its window, and the rest anywhere in
// the month.
func newWorld(seed uint64, nTickets, nHosts, nItems int) *world {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	w := &world{pol: policy.Default()}
	w.pol.Freezes = []policy.Freeze{{Name: "quarter-close", Window: policy.Window{Start: "2025-03-20T00:00", End: "2025-03-22T00:00", TimeZone: "Europe/Berlin"}, Reason: "quarter closing"}}
	for i := range nHosts {
		role := roles[i%len(roles)]
		w.hosts = append(w.hosts, Host{Name: fmt.Sprintf("%s-%04d", role, i), Labels: map[string]string{"role": role, "env": pick(envs), "site": pick(sites)}})
	}
	// Item patterns, with how many in a hundred take each form: specific
	// ones are common, sweeping ones ("service:*") rare.
	patterns := []struct {
		pct  int
		make func() string
	}{
		{22, func() string { s := pick(services); return "file:/etc/" + s + "/" + s + ".conf" }},
		{18, func() string { return "file:/etc/" + pick(services) + "/**" }},
		{8, func() string { return "file:/etc/" + pick(services) + "/conf.d/*" }},
		{18, func() string { return "package:" + pick(packages) }},
		{5, func() string { return "package:" + pick(packages)[:3] + "*" }},
		{12, func() string { return "service:" + pick(services) }},
		{2, func() string { return "service:*" }},
		{4, func() string { return "sysctl:" + pick([]string{"net.ipv4.", "vm.", "kernel."}) + "*" }},
		{6, func() string { return "user:" + pick(users) }},
		{1, func() string { return "user:*" }},
		{4, func() string { return "file:/etc/ssh/**" }},
	}
	pickPattern := func() string {
		n, acc := rng.IntN(100), 0
		for _, p := range patterns {
			if acc += p.pct; n < acc {
				return p.make()
			}
		}
		return patterns[0].make()
	}
	for i := range nTickets {
		t := &ticket.Ticket{ID: fmt.Sprintf("t_%05d", i), TenantID: "acme", Requester: mspEng, Version: 1}
		t.Reference = fmt.Sprintf("CHG%07d", i)
		t.Title = "generated change"
		t.Origin, t.Class = ticket.Internal, ticket.Normal
		switch n := rng.IntN(100); {
		case n < 8:
			t.Class = ticket.Emergency
		case n < 20:
			t.Class = ticket.Standard
		}
		n, acc := rng.IntN(100), 0
		for _, wt := range weights {
			if acc += wt.pct; n < acc {
				t.State = wt.state
				break
			}
		}
		if t.State.Authorizes() {
			t.Approvals = []ticket.Approval{{Side: ticket.SideMSP, Signoff: ticket.Signoff{By: mspAppr, At: month}}}
		}
		switch n := rng.IntN(1000); {
		case n < 900:
			for range 1 + rng.IntN(3) {
				t.Scope.Hosts = append(t.Scope.Hosts, w.hosts[rng.IntN(nHosts)].Name)
			}
		case n < 980:
			t.Scope.Labels = []string{"role=" + pick(roles)}
			if rng.IntN(2) == 0 {
				t.Scope.Labels = append(t.Scope.Labels, "env="+pick(envs))
			}
		case n < 995:
			t.Scope.Hosts = []string{pick(roles) + "-*"}
		default:
			t.Scope.Hosts = []string{"*"}
		}
		for range 1 + rng.IntN(3) {
			t.Scope.Items = append(t.Scope.Items, pickPattern())
		}
		start := month.Add(time.Duration(rng.IntN(30*24*2)) * 30 * time.Minute)
		end := start.Add(time.Duration(1+rng.IntN(6)) * time.Hour)
		zone := pick(zones)
		loc, _ := policy.LoadZone(zone)
		t.Window = &policy.Window{Start: start.In(loc).Format("2006-01-02T15:04"), End: end.In(loc).Format("2006-01-02T15:04"), TimeZone: zone}
		w.tickets = append(w.tickets, t)
	}
	keys := []func() string{
		func() string { s := pick(services); return "file:/etc/" + s + "/" + s + ".conf" },
		func() string { return fmt.Sprintf("file:/etc/%s/conf.d/%02d-site.conf", pick(services), rng.IntN(20)) },
		func() string { return fmt.Sprintf("file:/etc/%s/sites/%d/vhost", pick(services), rng.IntN(9)) },
		func() string { return "package:" + pick(packages) },
		func() string { return "service:" + pick(services) },
		func() string {
			return "sysctl:" + pick([]string{"net.ipv4.ip_forward", "net.ipv4.conf.eth0/100.rp_filter", "vm.swappiness", "kernel.sysrq"})
		},
		func() string { return "user:" + pick(users) },
		func() string { return "file:/etc/ssh/sshd_config" },
		func() string { return "file:/etc/hosts" },
		func() string { return fmt.Sprintf("port:tcp/%d", 1024+rng.IntN(4000)) },
	}
	for range nItems {
		it := Item{Change: baseline.Modified, Attrs: []string{"sha256", "size"}}
		if rng.IntN(3) == 0 {
			// In some ticket's scope and around its window.
			t := w.tickets[rng.IntN(len(w.tickets))]
			it.Host = hostFor(w, t, rng)
			it.Key = keyFor(t.Scope.Items[rng.IntN(len(t.Scope.Items))], rng)
			start, end, _ := t.Window.Bounds()
			it.ObservedAt = start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)+2*time.Hour))) - time.Hour)
		} else {
			it.Host = w.hosts[rng.IntN(nHosts)]
			it.Key = keys[rng.IntN(len(keys))]()
			it.ObservedAt = month.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		}
		w.items = append(w.items, it)
	}
	return w
}

// hostFor picks a host in the ticket's scope.
func hostFor(w *world, t *ticket.Ticket, rng *rand.Rand) Host {
	if len(t.Scope.Hosts) > 0 && t.Scope.Hosts[0] != "*" && t.Scope.Hosts[0][len(t.Scope.Hosts[0])-1] != '*' {
		name := t.Scope.Hosts[rng.IntN(len(t.Scope.Hosts))]
		for _, h := range w.hosts {
			if h.Name == name {
				return h
			}
		}
	}
	for range 1000 {
		h := w.hosts[rng.IntN(len(w.hosts))]
		ok := true
		for _, l := range t.Scope.Labels {
			k, v, _ := strings.Cut(l, "=")
			ok = ok && h.Labels[k] == v
		}
		if len(t.Scope.Hosts) == 1 {
			ok = strings.HasPrefix(h.Name, strings.TrimSuffix(t.Scope.Hosts[0], "*"))
		}
		if ok {
			return h
		}
	}
	return w.hosts[0]
}

// keyFor makes an item key that a pattern matches.
func keyFor(p string, rng *rand.Rand) string {
	switch {
	case len(p) > 3 && p[len(p)-3:] == "/**":
		return p[:len(p)-2] + fmt.Sprintf("sub/%d.conf", rng.IntN(5))
	case p[len(p)-1] == '*':
		return p[:len(p)-1] + fmt.Sprintf("x%d", rng.IntN(5))
	}
	return p
}

// BenchmarkEvaluateAll reconciles 100,000 drift items, in no order, over
// 5,000 hosts against 10,000 tickets, starting each time with no host
// seen before, and reports the time and allocations per item. On a shared
// machine cpu-ns/item, the CPU time the process used, is the figure to
// read.
func BenchmarkEvaluateAll(b *testing.B) {
	w := newWorld(1, 10000, 5000, 100000)
	e, err := New("acme", w.pol, w.tickets)
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var cpu time.Duration
	var results []Result
	for b.Loop() {
		b.StopTimer()
		e.views = newViewCache()
		b.StartTimer()
		start := cpuTime()
		results = e.EvaluateAll(w.items)
		cpu += cpuTime() - start
	}
	runtime.ReadMemStats(&after)
	covering := 0
	for _, r := range results {
		covering += len(r.Covering)
	}
	b.ReportMetric(float64(covering)/float64(len(results)), "tickets/item")
	n := float64(b.N) * float64(len(w.items))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/item")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/item")
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/item")
}

// BenchmarkReport reconciles one report: 20 drift items of one host not
// seen before, against 10,000 tickets.
func BenchmarkReport(b *testing.B) {
	w := newWorld(1, 10000, 5000, 100000)
	e, err := New("acme", w.pol, w.tickets)
	if err != nil {
		b.Fatal(err)
	}
	byHost := map[string][]Item{}
	for _, it := range w.items {
		byHost[it.Host.Name] = append(byHost[it.Host.Name], it)
	}
	var reports [][]Item
	for _, items := range byHost {
		if len(items) >= 20 {
			reports = append(reports, items[:20])
		}
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		e.views = newViewCache()
		b.StartTimer()
		e.EvaluateAll(reports[i%len(reports)])
		i++
	}
}

// BenchmarkNew builds the engine of 10,000 tickets.
func BenchmarkNew(b *testing.B) {
	w := newWorld(1, 10000, 5000, 0)
	for b.Loop() {
		if _, err := New("acme", w.pol, w.tickets); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReevaluate approves one ticket late and judges again the
// results of 100,000 items.
func BenchmarkReevaluate(b *testing.B) {
	w := newWorld(1, 10000, 5000, 100000)
	e, err := New("acme", w.pol, w.tickets)
	if err != nil {
		b.Fatal(err)
	}
	prev := e.EvaluateAll(w.items)
	t := w.tickets[42].Clone()
	t.State = ticket.Approved
	for b.Loop() {
		if _, _, err := e.Reevaluate(prev, t); err != nil {
			b.Fatal(err)
		}
	}
}
