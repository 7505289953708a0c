package main

import (
	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// The restricted Pod Security Standard, evaluated by the same code as the API server's Pod
// Security admission (k8s.io/pod-security-admission): the example overlay's namespace enforces it,
// so a pod it refuses would never start there.
var restricted = func() policy.Evaluator {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return evaluator
}()

func (c *checker) podSecurity(where string, template *corev1.PodTemplateSpec) {
	level := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	result := policy.AggregateCheckResults(restricted.EvaluatePod(level, &template.ObjectMeta, &template.Spec))
	if !result.Allowed {
		c.fail(where, "the restricted Pod Security Standard refuses the pod: %s (%s)", result.ForbiddenReason(), result.ForbiddenDetail())
	}
}
