package main

import (
	"regexp"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), reduced to the fields that
// components/servicemonitor uses, with the Operator's JSON names (its servicemonitor_types.go and
// types.go). Its Go module brings in controller-runtime and the apiextensions server, so the struct
// is mirrored as KEDA's are; decoded strictly, a misspelled field, or one of the Operator's that is
// not mirrored yet, is a finding: add it here when the component starts to use it.

type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

type ServiceMonitorSpec struct {
	JobLabel          string                   `json:"jobLabel,omitempty"`
	Endpoints         []ServiceMonitorEndpoint `json:"endpoints"`
	Selector          metav1.LabelSelector     `json:"selector"`
	NamespaceSelector *NamespaceSelector       `json:"namespaceSelector,omitempty"`
}

// Mirrored so that one given is refused with its reason rather than as an unknown field.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

type ServiceMonitorEndpoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// The job names deploy/observability's alert rules and dashboard select by: the value of the
// ServiceMonitor's jobLabel on each Service it scrapes must be one of them.
var monitoredJobs = map[string]bool{"command-service": true, "query-service": true}

// A Prometheus duration as the Operator's CRD accepts it (its Duration pattern), e.g. 15s, 1m30s.
var promDuration = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

// The milliseconds in each unit of a Prometheus duration, in the order promDuration's groups read.
var durationUnits = []int64{365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1}

// milliseconds of a Prometheus duration; false when it is not one.
func milliseconds(duration string) (int64, bool) {
	groups := promDuration.FindStringSubmatch(duration)
	if groups == nil || duration == "" {
		return 0, false
	}
	var total int64
	for i, unit := range durationUnits {
		if n, err := strconv.ParseInt(groups[3+2*i], 10, 64); err == nil {
			total += n * unit
		}
	}
	return total, true
}

func (c *checker) serviceMonitors() {
	for _, sm := range c.set.serviceMonitors {
		c.serviceMonitor(sm)
	}
	if len(c.set.serviceMonitors) == 0 {
		return
	}
	// With a ServiceMonitor in the build, every Deployment that serves /metrics must be scraped.
	for _, d := range c.set.deployments {
		if d.Spec.Template.Annotations["prometheus.io/scrape"] == "true" && !c.monitored(d.Namespace, labels.Set(d.Spec.Template.Labels)) {
			c.fail("Deployment/"+d.Name, "serves /metrics but no ServiceMonitor of the build selects a Service of its pods")
		}
	}
}

func (c *checker) serviceMonitor(sm *ServiceMonitor) {
	where := "ServiceMonitor/" + sm.Name
	if ns := sm.Spec.NamespaceSelector; ns != nil && (ns.Any || len(ns.MatchNames) > 0) {
		c.fail(where, "namespaceSelector given: leave it out, so that the Services are looked for in the ServiceMonitor's own namespace (an overlay's namespace does not rewrite matchNames)")
	}
	selected := c.servicesSelectedBy(sm.Namespace, &sm.Spec.Selector)
	if len(selected) == 0 {
		c.fail(where, "its selector selects no Service of the build")
	}
	if sm.Spec.JobLabel == "" {
		c.fail(where, "no jobLabel: the job label would be each Service's name, which a namePrefix changes; the alert rules select by job")
	}
	for _, svc := range selected {
		if job := svc.Labels[sm.Spec.JobLabel]; sm.Spec.JobLabel != "" && !monitoredJobs[job] {
			c.fail(where, "jobLabel %s of Service/%s is %q: the alert rules and the dashboard know only %v", sm.Spec.JobLabel, svc.Name, job, []string{"command-service", "query-service"})
		}
	}
	if len(sm.Spec.Endpoints) == 0 {
		c.fail(where, "no endpoints")
	}
	for _, endpoint := range sm.Spec.Endpoints {
		c.scrapeEndpoint(where, endpoint, selected)
	}
}

func (c *checker) scrapeEndpoint(where string, endpoint ServiceMonitorEndpoint, selected []*corev1.Service) {
	if endpoint.Port == "" {
		c.fail(where, "an endpoint without a port name (the Services' port that serves /metrics)")
	}
	for _, svc := range selected {
		if endpoint.Port != "" && !serviceHasPortNamed(svc, endpoint.Port) {
			c.fail(where, "endpoint port %q is not a port of Service/%s", endpoint.Port, svc.Name)
		}
	}
	if endpoint.Path != "/metrics" {
		c.fail(where, "endpoint path %q, want /metrics", endpoint.Path)
	}
	if endpoint.Scheme != "" && endpoint.Scheme != "http" && endpoint.Scheme != "https" {
		c.fail(where, "endpoint scheme %q, want http or https", endpoint.Scheme)
	}
	interval, intervalOK := milliseconds(endpoint.Interval)
	timeout, timeoutOK := milliseconds(endpoint.ScrapeTimeout)
	if endpoint.Interval != "" && !intervalOK {
		c.fail(where, "endpoint interval %q is not a Prometheus duration", endpoint.Interval)
	}
	if endpoint.ScrapeTimeout != "" && !timeoutOK {
		c.fail(where, "endpoint scrapeTimeout %q is not a Prometheus duration", endpoint.ScrapeTimeout)
	}
	if intervalOK && timeoutOK && timeout > interval {
		c.fail(where, "endpoint scrapeTimeout %s is longer than its interval %s: Prometheus refuses the scrape config", endpoint.ScrapeTimeout, endpoint.Interval)
	}
}

// monitored: some ServiceMonitor of the namespace selects a Service that selects these pod labels.
func (c *checker) monitored(namespace string, podLabels labels.Set) bool {
	for _, sm := range c.set.serviceMonitors {
		if sm.Namespace != namespace {
			continue
		}
		for _, svc := range c.servicesSelectedBy(namespace, &sm.Spec.Selector) {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
				return true
			}
		}
	}
	return false
}

func (c *checker) servicesSelectedBy(namespace string, selector *metav1.LabelSelector) []*corev1.Service {
	var matched []*corev1.Service
	for _, svc := range c.set.services {
		if svc.Namespace == namespace && selects(selector, labels.Set(svc.Labels)) {
			matched = append(matched, svc)
		}
	}
	return matched
}

func serviceHasPortNamed(svc *corev1.Service, name string) bool {
	for _, port := range svc.Spec.Ports {
		if port.Name == name {
			return true
		}
	}
	return false
}
