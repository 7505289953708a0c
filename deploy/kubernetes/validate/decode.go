package main

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// A document is one object of a build, as kustomize rendered it.
type document struct {
	kind, name string
	yaml       []byte
}

// The objects of one build, each in its typed struct.
type objectSet struct {
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	serviceAccounts []*corev1.ServiceAccount
	namespaces      []*corev1.Namespace
	budgets         []*policyv1.PodDisruptionBudget
	networkPolicies []*networkingv1.NetworkPolicy
	scaledObjects   []*ScaledObject
	triggerAuths    []*TriggerAuthentication
	serviceMonitors []*ServiceMonitor
	counts          map[string]int
}

// The apiVersion of each kind a build may hold. Anything else (a Secret above all: secrets are made
// outside these manifests) is a finding, so that nothing reaches a cluster undecoded.
var apiVersions = map[string]string{
	"Deployment":            "apps/v1",
	"Job":                   "batch/v1",
	"Service":               "v1",
	"ConfigMap":             "v1",
	"ServiceAccount":        "v1",
	"Namespace":             "v1",
	"PodDisruptionBudget":   "policy/v1",
	"NetworkPolicy":         "networking.k8s.io/v1",
	"ScaledObject":          "keda.sh/v1alpha1",
	"TriggerAuthentication": "keda.sh/v1alpha1",
	"ServiceMonitor":        "monitoring.coreos.com/v1",
}

// strict decodes YAML into T, refusing unknown (so also misspelled) fields, duplicate keys and
// values of the wrong type: sigs.k8s.io/yaml turns the YAML into JSON and decodes it with
// DisallowUnknownFields, the way the API server's strict field validation reads a request.
func strict[T any](doc []byte) (*T, error) {
	var object T
	if err := yaml.UnmarshalStrict(doc, &object); err != nil {
		return nil, err
	}
	return &object, nil
}

func decodeAll(docs []document) (*objectSet, []string) {
	set := &objectSet{counts: map[string]int{}}
	var findings []string
	for _, doc := range docs {
		if err := set.add(doc); err != nil {
			findings = append(findings, fmt.Sprintf("%s/%s: %v", doc.kind, doc.name, err))
		}
	}
	return set, findings
}

func (set *objectSet) add(doc document) error {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc.yaml, &meta); err != nil {
		return err
	}
	want, known := apiVersions[meta.Kind]
	if !known {
		return fmt.Errorf("kind %s is not expected in these manifests (a Secret never is: create it in the cluster)", meta.Kind)
	}
	if meta.APIVersion != want {
		return fmt.Errorf("apiVersion %q, want %q", meta.APIVersion, want)
	}
	var err error
	switch meta.Kind {
	case "Deployment":
		err = into(doc, &set.deployments)
	case "Job":
		err = into(doc, &set.jobs)
	case "Service":
		err = into(doc, &set.services)
	case "ConfigMap":
		err = into(doc, &set.configMaps)
	case "ServiceAccount":
		err = into(doc, &set.serviceAccounts)
	case "Namespace":
		err = into(doc, &set.namespaces)
	case "PodDisruptionBudget":
		err = into(doc, &set.budgets)
	case "NetworkPolicy":
		err = into(doc, &set.networkPolicies)
	case "ScaledObject":
		err = into(doc, &set.scaledObjects)
	case "TriggerAuthentication":
		err = into(doc, &set.triggerAuths)
	case "ServiceMonitor":
		err = into(doc, &set.serviceMonitors)
	}
	if err == nil {
		set.counts[meta.Kind]++
	}
	return err
}

func into[T any](doc document, list *[]*T) error {
	object, err := strict[T](doc.yaml)
	if err != nil {
		return fmt.Errorf("strict decoding: %w", err)
	}
	*list = append(*list, object)
	return nil
}

func (set *objectSet) total() int {
	total := 0
	for _, n := range set.counts {
		total += n
	}
	return total
}

func (set *objectSet) summary() string {
	kinds := make([]string, 0, len(set.counts))
	for kind := range set.counts {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, kind := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", kind, set.counts[kind]))
	}
	return fmt.Sprintf("%2d objects: %s", set.total(), strings.Join(parts, ", "))
}
