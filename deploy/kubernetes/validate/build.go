package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// A target is one kustomization to build: a directory of the tree, or one made here that puts
// components on the base (a component cannot be built alone).
type target struct {
	name string
	dir  string
	// released: an overlay, whose images must name a tag or digest (the base leaves them open).
	released bool
}

// The name prefix and namespace of the build with every component: references that kustomize
// must rewrite (ConfigMap names, KEDA's targets) are wrong there first.
const (
	allPrefix    = "check-"
	allNamespace = "check"
)

func discover(root string) ([]target, func(), error) {
	noop := func() {}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, noop, err
	}
	base := filepath.Join(root, "base")
	if !isKustomization(base) {
		return nil, noop, fmt.Errorf("%s has no kustomization.yaml: give the deploy/kubernetes folder", base)
	}
	targets := []target{{name: "base", dir: base}}
	overlays, err := subfolders(filepath.Join(root, "overlays"))
	if err != nil {
		return nil, noop, err
	}
	for _, name := range overlays {
		targets = append(targets, target{name: "overlays/" + name, dir: filepath.Join(root, "overlays", name), released: true})
	}
	components, err := subfolders(filepath.Join(root, "components"))
	if err != nil {
		return nil, noop, err
	}
	if len(components) == 0 {
		return targets, noop, nil
	}
	scratch, err := os.MkdirTemp("", "cqrs-k8s-check-")
	if err != nil {
		return nil, noop, err
	}
	cleanup := func() { os.RemoveAll(scratch) }
	all := make([]string, 0, len(components))
	for _, name := range components {
		dir := filepath.Join(root, "components", name)
		all = append(all, dir)
		combo, err := writeCombo(scratch, name, base, []string{dir}, "")
		if err != nil {
			cleanup()
			return nil, noop, err
		}
		targets = append(targets, target{name: "base+components/" + name, dir: combo})
	}
	extra := fmt.Sprintf("namePrefix: %s\nnamespace: %s\n", allPrefix, allNamespace)
	combo, err := writeCombo(scratch, "all", base, all, extra)
	if err != nil {
		cleanup()
		return nil, noop, err
	}
	targets = append(targets, target{name: "base+all-components+prefix", dir: combo})
	return targets, cleanup, nil
}

func writeCombo(scratch, name, base string, components []string, extra string) (string, error) {
	dir := filepath.Join(scratch, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	// Kustomize takes no absolute root: each folder is named relative to the made one.
	relative := func(to string) (string, error) { return filepath.Rel(dir, to) }
	var text strings.Builder
	text.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	baseRel, err := relative(base)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&text, "resources:\n  - %s\ncomponents:\n", baseRel)
	for _, component := range components {
		componentRel, err := relative(component)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&text, "  - %s\n", componentRel)
	}
	text.WriteString(extra)
	return dir, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(text.String()), 0o644)
}

func subfolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var found []string
	for _, entry := range entries {
		if entry.IsDir() && isKustomization(filepath.Join(dir, entry.Name())) {
			found = append(found, entry.Name())
		}
	}
	sort.Strings(found)
	return found, nil
}

func isKustomization(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "kustomization.yaml"))
	return err == nil
}

func (t target) build() (resmap.ResMap, error) {
	kustomizer := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	return kustomizer.Run(filesys.MakeFsOnDisk(), t.dir)
}

func (t target) yaml() ([]byte, error) {
	built, err := t.build()
	if err != nil {
		return nil, err
	}
	return built.AsYaml()
}

// validate builds the target, decodes every object strictly, then runs the checks on the set.
func (t target) validate() (*objectSet, []string) {
	built, err := t.build()
	if err != nil {
		return nil, []string{"kustomize build: " + err.Error()}
	}
	docs := make([]document, 0, built.Size())
	for _, resource := range built.Resources() {
		text, err := resource.AsYAML()
		if err != nil {
			return nil, []string{fmt.Sprintf("%s/%s: %v", resource.GetKind(), resource.GetName(), err)}
		}
		docs = append(docs, document{kind: resource.GetKind(), name: resource.GetName(), yaml: text})
	}
	return checkDocuments(docs, t.released)
}

// checkDocuments is the whole validation of one build's objects (the canaries call it too).
func checkDocuments(docs []document, released bool) (*objectSet, []string) {
	set, findings := decodeAll(docs)
	if len(findings) > 0 {
		return set, findings
	}
	return set, check(set, released)
}
