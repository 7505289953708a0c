package main

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// Canaries plant one fault each in a copy of a good build's objects and expect a finding: a
// validation that cannot fail proves nothing, so each run shows that these still fail.
type canary struct {
	fault  string
	target string
	plant  func(docs []document) []document
	expect string
}

type object = map[string]any

var canaries = []canary{
	{"a misspelled field (readinesProbe)", "base", edit("Deployment", "command-service", func(o object) {
		ctr := container(o, 0)
		ctr["readinesProbe"] = ctr["readinessProbe"]
		delete(ctr, "readinessProbe")
	}), `unknown field "readinesProbe"`},
	{"a field of the wrong type (replicas: two)", "base", edit("Deployment", "query-service", func(o object) {
		o["spec"].(object)["replicas"] = "two"
	}), "cannot unmarshal string"},
	{"a password in an env value", "base", edit("Deployment", "command-service", func(o object) {
		container(o, 0)["env"] = []any{object{"name": "CQRS_POSTGRES_DSN", "value": "postgresql://cqrs_command:hunter2@db:5432/cqrs"}}
	}), "holds a URL with a user and password"},
	{"a password in a ConfigMap", "base", edit("ConfigMap", "cqrs-query-config", func(o object) {
		o["data"].(object)["CQRS_MONGODB_URL"] = "mongodb://cqrs_query:hunter2@mongo:27017/"
	}), "holds a URL with a user and password"},
	{"a Secret in the manifests", "base", func(docs []document) []document {
		return append(docs, document{kind: "Secret", name: "leak", yaml: []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\n")})
	}, "kind Secret is not expected"},
	{"a Deployment without a PodDisruptionBudget", "base", func(docs []document) []document {
		return drop(docs, "PodDisruptionBudget", "command-service")
	}, "0 PodDisruptionBudgets select its pods"},
	{"a probe on a port the container lacks", "base", edit("Deployment", "query-service", func(o object) {
		container(o, 0)["livenessProbe"].(object)["httpGet"].(object)["port"] = 9999
	}), "livenessProbe port 9999 is not a containerPort"},
	{"a container without limits", "base", edit("Deployment", "command-service", func(o object) {
		delete(container(o, 0)["resources"].(object), "limits")
	}), "resources must give a request and a limit"},
	{"a secret file that is not mounted", "base", edit("ConfigMap", "cqrs-command-config", func(o object) {
		o["data"].(object)["CQRS_POSTGRES_DSN_FILE"] = "/run/secrets/postgres-dsn"
	}), "is not a file of a Secret volume mounted in the container"},
	{"a writable root filesystem", "base", edit("Deployment", "command-service", func(o object) {
		container(o, 0)["securityContext"].(object)["readOnlyRootFilesystem"] = false
	}), "readOnlyRootFilesystem: true"},
	{"a pod on the host's network", "base", edit("Deployment", "query-service", func(o object) {
		o["spec"].(object)["template"].(object)["spec"].(object)["hostNetwork"] = true
	}), "the restricted Pod Security Standard refuses the pod: host namespaces"},
	{"a migration Job the first apply step misses", "base+components/migration-job", edit("Job", "command-service-migrate", func(o object) {
		o["metadata"].(object)["labels"].(object)["app.kubernetes.io/name"] = "command-service"
	}), "not picked by the first apply step"},
	{"a misspelled KEDA field (minReplicas)", "base+components/keda", edit("ScaledObject", "command-service", func(o object) {
		spec := o["spec"].(object)
		spec["minReplicas"] = spec["minReplicaCount"]
		delete(spec, "minReplicaCount")
	}), `unknown field "minReplicas"`},
	{"a KEDA trigger with the broker's URL inline", "base+components/keda", edit("ScaledObject", "command-service", func(o object) {
		trigger := o["spec"].(object)["triggers"].([]any)[0].(object)
		trigger["metadata"].(object)["host"] = "amqp://cqrs-command:hunter2@rabbitmq:5672/cqrs"
	}), `trigger metadata "host"`},
	{"a misspelled ServiceMonitor field (endpoint)", "base+components/servicemonitor", edit("ServiceMonitor", "cqrs-pair", func(o object) {
		spec := o["spec"].(object)
		spec["endpoint"] = spec["endpoints"]
		delete(spec, "endpoints")
	}), `unknown field "endpoint"`},
	{"a ServiceMonitor on a port the Services lack", "base+components/servicemonitor", edit("ServiceMonitor", "cqrs-pair", func(o object) {
		o["spec"].(object)["endpoints"].([]any)[0].(object)["port"] = "metrics"
	}), `endpoint port "metrics" is not a port of Service/`},
	{"a ServiceMonitor without a jobLabel", "base+all-components+prefix", edit("ServiceMonitor", "check-cqrs-pair", func(o object) {
		delete(o["spec"].(object), "jobLabel")
	}), "no jobLabel"},
	{"a ServiceMonitor missing the query service", "base+components/servicemonitor", edit("ServiceMonitor", "cqrs-pair", func(o object) {
		o["spec"].(object)["selector"] = object{"matchLabels": object{"app.kubernetes.io/name": "command-service"}}
	}), "Deployment/query-service: serves /metrics but no ServiceMonitor"},
}

// runCanaries plants each fault and reports whether every one was caught, and by which finding.
func runCanaries(targets []target) ([]string, bool) {
	built := map[string][]document{}
	lines := []string{}
	missed := 0
	for _, c := range canaries {
		docs, ok := built[c.target]
		if !ok {
			var err error
			if docs, err = documentsOf(targets, c.target); err != nil {
				return []string{"canaries: " + err.Error()}, false
			}
			built[c.target] = docs
		}
		_, findings := checkDocuments(c.plant(clone(docs)), false)
		if anyContains(findings, c.expect) {
			lines = append(lines, fmt.Sprintf("  caught %-44s %s", c.fault, c.expect))
		} else {
			missed++
			lines = append(lines, fmt.Sprintf("  MISSED %-44s findings: %q", c.fault, findings))
		}
	}
	head := fmt.Sprintf("canaries: %d of %d planted faults caught", len(canaries)-missed, len(canaries))
	return append([]string{head}, lines...), missed == 0
}

func documentsOf(targets []target, name string) ([]document, error) {
	for _, t := range targets {
		if t.name != name {
			continue
		}
		built, err := t.build()
		if err != nil {
			return nil, err
		}
		var docs []document
		for _, resource := range built.Resources() {
			text, err := resource.AsYAML()
			if err != nil {
				return nil, err
			}
			docs = append(docs, document{kind: resource.GetKind(), name: resource.GetName(), yaml: text})
		}
		return docs, nil
	}
	return nil, fmt.Errorf("no build named %s", name)
}

// edit changes the object of that kind whose name starts with name (generated names have a hash).
func edit(kind, name string, change func(object)) func([]document) []document {
	return func(docs []document) []document {
		for i, doc := range docs {
			if doc.kind != kind || !strings.HasPrefix(doc.name, name) {
				continue
			}
			var o object
			if err := yaml.Unmarshal(doc.yaml, &o); err != nil {
				panic(err)
			}
			change(o)
			text, err := yaml.Marshal(o)
			if err != nil {
				panic(err)
			}
			docs[i].yaml = text
		}
		return docs
	}
}

func drop(docs []document, kind, name string) []document {
	kept := docs[:0]
	for _, doc := range docs {
		if doc.kind != kind || doc.name != name {
			kept = append(kept, doc)
		}
	}
	return kept
}

func container(o object, index int) object {
	return o["spec"].(object)["template"].(object)["spec"].(object)["containers"].([]any)[index].(object)
}

func clone(docs []document) []document {
	return append([]document(nil), docs...)
}

func anyContains(findings []string, part string) bool {
	for _, finding := range findings {
		if strings.Contains(finding, part) {
			return true
		}
	}
	return false
}
