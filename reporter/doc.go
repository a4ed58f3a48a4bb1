// Package reporter renders what the collector knows for people: web pages,
// baseline documentation, drift digests and escalation alerts, and charts.
// It only renders: it reads through the small interfaces it declares and
// writes nothing.
package reporter
