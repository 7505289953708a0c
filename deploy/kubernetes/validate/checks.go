package main

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// What the images run: the services finish in-flight messages within 30 s of SIGTERM
// (consumer.DRAIN_TIMEOUT_SECONDS), then close their connections.
const (
	drainSeconds = 30
	closeSeconds = 10
	serviceUser  = 10001
)

// With the migration Job (components/migration-job), docs/kubernetes.md applies the build in two
// steps: first what this selector picks (kubectl apply -k DIR -l ...), which must hold the Job and
// what it needs and not the command service; then, once the Job is complete, everything.
const migrationFirstSelector = "app.kubernetes.io/name!=command-service"

// The images these manifests may run (any registry before them).
var images = []string{"cqrs-pair/command-service", "cqrs-pair/query-service"}

// The settings whose value carries a password: only ever from a file (CQRS_<NAME>_FILE).
var secretSettings = []string{"CQRS_RABBITMQ_URL", "CQRS_POSTGRES_DSN", "CQRS_MONGODB_URL"}

var (
	credentialsInURL = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]+:[^/@\s]+@`)
	passwordParam    = regexp.MustCompile(`(?i)\bpass(word)?=`)
	secretName       = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|CREDENTIAL)`)
)

type checker struct {
	set      *objectSet
	released bool
	findings []string
}

func (c *checker) fail(object, format string, args ...any) {
	c.findings = append(c.findings, object+": "+fmt.Sprintf(format, args...))
}

func check(set *objectSet, released bool) []string {
	c := &checker{set: set, released: released}
	for _, cm := range set.configMaps {
		for key, value := range cm.Data {
			c.literal("ConfigMap/"+cm.Name, key, value)
		}
	}
	for _, d := range set.deployments {
		c.deployment(d)
	}
	for _, job := range set.jobs {
		where := "Job/" + job.Name
		if p := job.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
			c.fail(where, "restartPolicy %q: a Job's pod must be Never or OnFailure", p)
		}
		if job.Spec.BackoffLimit == nil {
			c.fail(where, "no backoffLimit: a failing migration would be retried 6 times by default, silently")
		}
		c.pod(where, job.Namespace, &job.Spec.Template, false)
	}
	c.migrationFirst()
	c.budgets()
	c.services()
	c.networkPolicies()
	c.keda()
	c.serviceMonitors()
	return c.findings
}

func (c *checker) deployment(d *appsv1.Deployment) {
	where := "Deployment/" + d.Name
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !selects(d.Spec.Selector, podLabels) {
		c.fail(where, "its selector does not select its own pod template's labels")
	}
	scaled := c.scaledBy(d)
	switch {
	case scaled && d.Spec.Replicas != nil:
		c.fail(where, "scaled by a ScaledObject but sets replicas: every apply would undo the autoscaler")
	case !scaled && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2):
		c.fail(where, "fewer than 2 replicas: one node lost would stop the service")
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || *grace < drainSeconds+closeSeconds {
		c.fail(where, "terminationGracePeriodSeconds under %d: in-flight messages need %d s to finish",
			drainSeconds+closeSeconds, drainSeconds)
	}
	if !c.spreadsAcrossNodes(&d.Spec.Template.Spec, podLabels) {
		c.fail(where, "no topologySpreadConstraint (or pod anti-affinity) on kubernetes.io/hostname selecting its pods")
	}
	c.pod(where, d.Namespace, &d.Spec.Template, true)
	budgets := 0
	for _, pdb := range c.set.budgets {
		if pdb.Namespace == d.Namespace && selects(pdb.Spec.Selector, podLabels) {
			budgets++
		}
	}
	if budgets != 1 {
		c.fail(where, "%d PodDisruptionBudgets select its pods, want exactly 1", budgets)
	}
}

// pod checks what every pod of the pair must have; serving: a Deployment's, which must have probes.
func (c *checker) pod(where, namespace string, template *corev1.PodTemplateSpec, serving bool) {
	spec := &template.Spec
	security := spec.SecurityContext
	if security == nil || !isTrue(security.RunAsNonRoot) || security.RunAsUser == nil || *security.RunAsUser != serviceUser {
		c.fail(where, "pod securityContext must set runAsNonRoot: true and runAsUser: %d (the images' user)", serviceUser)
	}
	if security == nil || security.SeccompProfile == nil || security.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.fail(where, "pod securityContext must set seccompProfile RuntimeDefault")
	}
	if !isFalse(spec.AutomountServiceAccountToken) {
		c.fail(where, "automountServiceAccountToken must be false: the services never call the Kubernetes API")
	}
	if spec.ServiceAccountName != "" && !c.hasServiceAccount(namespace, spec.ServiceAccountName) {
		c.fail(where, "serviceAccountName %q is not in the build", spec.ServiceAccountName)
	}
	c.podSecurity(where, template)
	if serving {
		c.prometheus(where, template)
	}
	for i := range spec.InitContainers {
		c.container(where, namespace, spec, &spec.InitContainers[i], false)
	}
	for i := range spec.Containers {
		c.container(where, namespace, spec, &spec.Containers[i], serving)
	}
}

func (c *checker) container(pod, namespace string, spec *corev1.PodSpec, ctr *corev1.Container, serving bool) {
	where := pod + ": container " + ctr.Name
	c.image(where, ctr.Image)
	requests, limits := ctr.Resources.Requests, ctr.Resources.Limits
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		request, hasRequest := requests[name]
		limit, hasLimit := limits[name]
		if !hasRequest || !hasLimit {
			c.fail(where, "resources must give a request and a limit of %s", name)
		} else if request.Cmp(limit) > 0 {
			c.fail(where, "%s request %s above its limit %s", name, request.String(), limit.String())
		}
	}
	sc := ctr.SecurityContext
	if sc == nil || !isFalse(sc.AllowPrivilegeEscalation) || !isTrue(sc.ReadOnlyRootFilesystem) || isTrue(sc.Privileged) ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, corev1.Capability("ALL")) {
		c.fail(where, "securityContext must set allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities.drop [ALL]")
	}
	if serving {
		c.probes(where, ctr)
	}
	env := c.environment(where, namespace, ctr)
	for _, name := range secretSettings {
		if _, set := env[name]; set {
			c.fail(where, "%s is set as a value: give it as %s_FILE from a mounted Secret", name, name)
		}
	}
	for name, value := range env {
		if strings.HasSuffix(name, "_FILE") {
			c.secretFile(where, spec, ctr, name, value)
		}
	}
}

func (c *checker) image(where, image string) {
	name, tag := image, ""
	if at := strings.Index(name, "@"); at >= 0 {
		name, tag = name[:at], name[at:]
	} else if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		name, tag = name[:colon], name[colon+1:]
	}
	known := false
	for _, want := range images {
		known = known || name == want || strings.HasSuffix(name, "/"+want)
	}
	if !known {
		c.fail(where, "image %q is not one of %v (built from the root Dockerfile, SERVICE=command or query)", image, images)
	}
	if c.released && (tag == "" || tag == "latest") {
		c.fail(where, "image %q has no tag or digest: an overlay runs a release, never latest", image)
	}
}

func (c *checker) probes(where string, ctr *corev1.Container) {
	want := []struct {
		name, path string
		probe      *corev1.Probe
	}{{"readinessProbe", "/readyz", ctr.ReadinessProbe}, {"livenessProbe", "/healthz", ctr.LivenessProbe}, {"startupProbe", "", ctr.StartupProbe}}
	for _, w := range want {
		if w.probe == nil {
			if w.path != "" {
				c.fail(where, "no %s", w.name)
			}
			continue
		}
		get := w.probe.HTTPGet
		if get == nil {
			c.fail(where, "%s is not an httpGet", w.name)
			continue
		}
		if w.path != "" && get.Path != w.path {
			c.fail(where, "%s asks %s, want %s", w.name, get.Path, w.path)
		}
		if !hasPort(ctr, get.Port) {
			c.fail(where, "%s port %s is not a containerPort of the container", w.name, get.Port.String())
		}
	}
}

func (c *checker) prometheus(where string, template *corev1.PodTemplateSpec) {
	notes := template.Annotations
	if notes["prometheus.io/scrape"] != "true" {
		c.fail(where, "pod template lacks the annotation prometheus.io/scrape: \"true\"")
		return
	}
	port, err := strconv.Atoi(notes["prometheus.io/port"])
	found := false
	for i := range template.Spec.Containers {
		found = found || (err == nil && hasPort(&template.Spec.Containers[i], intstr.FromInt32(int32(port))))
	}
	if !found {
		c.fail(where, "prometheus.io/port %q is not a containerPort of its containers", notes["prometheus.io/port"])
	}
	if notes["prometheus.io/path"] != "/metrics" {
		c.fail(where, "prometheus.io/path is %q, want /metrics", notes["prometheus.io/path"])
	}
}

// environment is what the container's process sees: its ConfigMaps' entries, then its env.
func (c *checker) environment(where, namespace string, ctr *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := c.configMap(namespace, from.ConfigMapRef.Name)
		if cm == nil {
			if !isTrue(from.ConfigMapRef.Optional) {
				c.fail(where, "envFrom ConfigMap %q is not in the build", from.ConfigMapRef.Name)
			}
			continue
		}
		for key, value := range cm.Data {
			env[from.Prefix+key] = value
		}
	}
	for _, variable := range ctr.Env {
		if variable.ValueFrom == nil {
			c.literal(where+": env", variable.Name, variable.Value)
		}
		env[variable.Name] = variable.Value
	}
	return env
}

// literal refuses a value that looks like a credential: a URL with user:password, a password=
// parameter, or any value of a variable named like a secret (a *_FILE path excepted).
func (c *checker) literal(where, name, value string) {
	switch {
	case credentialsInURL.MatchString(value):
		c.fail(where, "%s holds a URL with a user and password: put it in a Secret", name)
	case passwordParam.MatchString(value):
		c.fail(where, "%s holds a password parameter: put it in a Secret", name)
	case secretName.MatchString(name) && value != "" && !strings.HasSuffix(name, "_FILE"):
		c.fail(where, "%s is named like a secret and has a literal value: put it in a Secret", name)
	}
}

// secretFile: a CQRS_<NAME>_FILE path must be a file of a Secret volume mounted in the container.
func (c *checker) secretFile(where string, spec *corev1.PodSpec, ctr *corev1.Container, name, file string) {
	for _, mount := range ctr.VolumeMounts {
		if path.Dir(path.Clean(file)) != path.Clean(mount.MountPath) {
			continue
		}
		for _, volume := range spec.Volumes {
			if volume.Name != mount.Name || volume.Secret == nil {
				continue
			}
			if volume.Secret.DefaultMode == nil || *volume.Secret.DefaultMode&0o007 != 0 {
				c.fail(where, "Secret volume %s must not be readable by others (defaultMode 0440)", volume.Name)
			}
			if len(volume.Secret.Items) == 0 {
				return
			}
			for _, item := range volume.Secret.Items {
				if item.Path == path.Base(file) {
					return
				}
			}
			c.fail(where, "%s=%s: the Secret volume %s has no item with that path", name, file, volume.Name)
			return
		}
	}
	c.fail(where, "%s=%s is not a file of a Secret volume mounted in the container", name, file)
}

func (c *checker) budgets() {
	for _, pdb := range c.set.budgets {
		where := "PodDisruptionBudget/" + pdb.Name
		if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
			c.fail(where, "give one of minAvailable and maxUnavailable")
		}
		if len(c.deploymentsSelectedBy(pdb.Namespace, pdb.Spec.Selector)) == 0 {
			c.fail(where, "selects no Deployment of the build")
		}
	}
}

func (c *checker) services() {
	for _, svc := range c.set.services {
		where := "Service/" + svc.Name
		selector := &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}
		matched := c.deploymentsSelectedBy(svc.Namespace, selector)
		if len(svc.Spec.Selector) == 0 || len(matched) == 0 {
			c.fail(where, "selects no Deployment of the build")
			continue
		}
		for _, port := range svc.Spec.Ports {
			for _, d := range matched {
				if !podHasPort(&d.Spec.Template.Spec, port.TargetPort) {
					c.fail(where, "port %s: targetPort %s is not a containerPort of Deployment/%s", port.Name, port.TargetPort.String(), d.Name)
				}
			}
		}
	}
}

func (c *checker) networkPolicies() {
	for _, policy := range c.set.networkPolicies {
		where := "NetworkPolicy/" + policy.Name
		matched := c.deploymentsSelectedBy(policy.Namespace, &policy.Spec.PodSelector)
		if len(matched) == 0 {
			c.fail(where, "its podSelector selects no Deployment of the build")
		}
		for _, rule := range policy.Spec.Ingress {
			for _, port := range rule.Ports {
				for _, d := range matched {
					if port.Port != nil && !podHasPort(&d.Spec.Template.Spec, *port.Port) {
						c.fail(where, "ingress port %s is not a containerPort of Deployment/%s", port.Port.String(), d.Name)
					}
				}
			}
		}
	}
}

func (c *checker) keda() {
	for _, so := range c.set.scaledObjects {
		where := "ScaledObject/" + so.Name
		ref := so.Spec.ScaleTargetRef
		if (ref.Kind != "" && ref.Kind != "Deployment") || (ref.APIVersion != "" && ref.APIVersion != "apps/v1") {
			c.fail(where, "scaleTargetRef %s %s: only Deployments (apps/v1) are scaled here", ref.APIVersion, ref.Kind)
		}
		if c.deploymentNamed(so.Namespace, ref.Name) == nil {
			c.fail(where, "scaleTargetRef names Deployment %q, which is not in the build", ref.Name)
		}
		if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 2 {
			c.fail(where, "minReplicaCount under 2: one node lost would stop the service")
		}
		if so.Spec.MaxReplicaCount == nil || (so.Spec.MinReplicaCount != nil && *so.Spec.MaxReplicaCount < *so.Spec.MinReplicaCount) {
			c.fail(where, "maxReplicaCount missing or under minReplicaCount")
		}
		if len(so.Spec.Triggers) == 0 {
			c.fail(where, "no trigger")
		}
		for _, trigger := range so.Spec.Triggers {
			c.trigger(where, so.Namespace, trigger)
		}
	}
}

func (c *checker) trigger(where, namespace string, trigger ScaleTrigger) {
	if trigger.Type != "rabbitmq" {
		c.fail(where, "trigger type %q, want rabbitmq", trigger.Type)
		return
	}
	for key := range trigger.Metadata {
		if !rabbitmqMetadata[key] {
			c.fail(where, "trigger metadata %q is not a rabbitmq scaler setting used here (host comes from a TriggerAuthentication)", key)
		}
	}
	meta := trigger.Metadata
	if meta["mode"] != "QueueLength" {
		c.fail(where, "trigger mode %q, want QueueLength", meta["mode"])
	}
	if meta["queueName"] != "command-service.commands" {
		c.fail(where, "trigger queueName %q, want command-service.commands", meta["queueName"])
	}
	if value, err := strconv.ParseFloat(meta["value"], 64); err != nil || value <= 0 {
		c.fail(where, "trigger value %q is not a positive number", meta["value"])
	}
	if protocol := meta["protocol"]; protocol != "amqp" && protocol != "http" {
		c.fail(where, "trigger protocol %q, want amqp or http", protocol)
	}
	ref := trigger.AuthenticationRef
	if ref == nil || (ref.Kind != "" && ref.Kind != "TriggerAuthentication") {
		c.fail(where, "the trigger needs an authenticationRef to a TriggerAuthentication (the broker URL has a password)")
		return
	}
	for _, auth := range c.set.triggerAuths {
		if auth.Name == ref.Name && auth.Namespace == namespace {
			for _, secret := range auth.Spec.SecretTargetRef {
				if secret.Parameter == "host" && secret.Name != "" && secret.Key != "" {
					return
				}
			}
			c.fail("TriggerAuthentication/"+auth.Name, "no secretTargetRef gives the parameter host")
			return
		}
	}
	c.fail(where, "authenticationRef names TriggerAuthentication %q, which is not in the build", ref.Name)
}

func (c *checker) scaledBy(d *appsv1.Deployment) bool {
	for _, so := range c.set.scaledObjects {
		if so.Namespace == d.Namespace && so.Spec.ScaleTargetRef.Name == d.Name {
			return true
		}
	}
	return false
}

func (c *checker) spreadsAcrossNodes(spec *corev1.PodSpec, podLabels labels.Set) bool {
	for _, constraint := range spec.TopologySpreadConstraints {
		if constraint.TopologyKey == corev1.LabelHostname && selects(constraint.LabelSelector, podLabels) {
			return true
		}
	}
	if spec.Affinity != nil && spec.Affinity.PodAntiAffinity != nil {
		anti := spec.Affinity.PodAntiAffinity
		for _, term := range anti.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey == corev1.LabelHostname && selects(term.LabelSelector, podLabels) {
				return true
			}
		}
		for _, weighted := range anti.PreferredDuringSchedulingIgnoredDuringExecution {
			term := weighted.PodAffinityTerm
			if term.TopologyKey == corev1.LabelHostname && selects(term.LabelSelector, podLabels) {
				return true
			}
		}
	}
	return false
}

func (c *checker) deploymentsSelectedBy(namespace string, selector *metav1.LabelSelector) []*appsv1.Deployment {
	var matched []*appsv1.Deployment
	for _, d := range c.set.deployments {
		if d.Namespace == namespace && selects(selector, labels.Set(d.Spec.Template.Labels)) {
			matched = append(matched, d)
		}
	}
	return matched
}

func (c *checker) deploymentNamed(namespace, name string) *appsv1.Deployment {
	for _, d := range c.set.deployments {
		if d.Namespace == namespace && d.Name == name {
			return d
		}
	}
	return nil
}

func (c *checker) configMap(namespace, name string) *corev1.ConfigMap {
	for _, cm := range c.set.configMaps {
		if cm.Namespace == namespace && cm.Name == name {
			return cm
		}
	}
	return nil
}

func (c *checker) hasServiceAccount(namespace, name string) bool {
	for _, sa := range c.set.serviceAccounts {
		if sa.Namespace == namespace && sa.Name == name {
			return true
		}
	}
	return false
}

// selects: a non-empty selector that matches the labels (an empty one would select every pod).
func selects(selector *metav1.LabelSelector, set labels.Set) bool {
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		return false
	}
	parsed, err := metav1.LabelSelectorAsSelector(selector)
	return err == nil && parsed.Matches(set)
}

func hasPort(ctr *corev1.Container, port intstr.IntOrString) bool {
	for _, p := range ctr.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func podHasPort(spec *corev1.PodSpec, port intstr.IntOrString) bool {
	for i := range spec.Containers {
		if hasPort(&spec.Containers[i], port) {
			return true
		}
	}
	return false
}

func isTrue(value *bool) bool  { return value != nil && *value }
func isFalse(value *bool) bool { return value != nil && !*value }

func (c *checker) migrationFirst() {
	if len(c.set.jobs) == 0 {
		return
	}
	first, err := labels.Parse(migrationFirstSelector)
	if err != nil {
		panic(err)
	}
	for _, job := range c.set.jobs {
		where := "Job/" + job.Name
		if !first.Matches(labels.Set(job.Labels)) {
			c.fail(where, "not picked by the first apply step (-l %s)", migrationFirstSelector)
		}
		spec := &job.Spec.Template.Spec
		for _, ctr := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			for _, from := range ctr.EnvFrom {
				if from.ConfigMapRef == nil {
					continue
				}
				if cm := c.configMap(job.Namespace, from.ConfigMapRef.Name); cm != nil && !first.Matches(labels.Set(cm.Labels)) {
					c.fail(where, "its ConfigMap %s is not picked by the first apply step (-l %s)", cm.Name, migrationFirstSelector)
				}
			}
		}
		for _, sa := range c.set.serviceAccounts {
			if sa.Namespace == job.Namespace && sa.Name == spec.ServiceAccountName && !first.Matches(labels.Set(sa.Labels)) {
				c.fail(where, "its ServiceAccount is not picked by the first apply step (-l %s)", migrationFirstSelector)
			}
		}
	}
	for _, d := range c.set.deployments {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if strings.Contains(ctr.Image, "cqrs-pair/command-service") && first.Matches(labels.Set(d.Labels)) {
				c.fail("Deployment/"+d.Name, "picked by the first apply step (-l %s): it would start before the migrations", migrationFirstSelector)
			}
		}
	}
}
