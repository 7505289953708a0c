// Command validate builds the kustomizations under deploy/kubernetes (the base, each overlay, the
// base with each component, and with all of them under a name prefix) with the kustomize Go API,
// strictly decodes every object into its typed Kubernetes struct, and runs the project's own
// checks. No cluster is needed.
//
//	go run . ..                          # every build; exit 1 on any finding
//	go run . -print overlays/example ..  # the YAML of one build, as kubectl apply -k would send it
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	printTarget := flag.String("print", "", "print the YAML of one build (a name from the list) and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: validate [-print BUILD] DIR   (DIR: deploy/kubernetes)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	targets, cleanup, err := discover(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(2)
	}
	var status int
	if *printTarget != "" {
		status = printOne(targets, *printTarget)
	} else {
		status = validateAll(targets)
	}
	// Not deferred: os.Exit would skip it, leaving the made kustomizations in the temp folder.
	cleanup()
	os.Exit(status)
}

func printOne(targets []target, name string) int {
	for _, t := range targets {
		if t.name == name {
			out, err := t.yaml()
			if err != nil {
				fmt.Fprintf(os.Stderr, "validate: %s: %v\n", name, err)
				return 1
			}
			os.Stdout.Write(out)
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "validate: no build named %q; the builds are: %s\n", name, names(targets))
	return 2
}

func validateAll(targets []target) int {
	failed, objects := 0, 0
	for _, t := range targets {
		set, findings := t.validate()
		if len(findings) > 0 {
			failed++
			fmt.Printf("FAIL %-34s %d finding(s)\n", t.name, len(findings))
			for _, finding := range findings {
				fmt.Printf("       %s\n", finding)
			}
			continue
		}
		objects += set.total()
		fmt.Printf("ok   %-34s %s\n", t.name, set.summary())
	}
	caught, canaries := runCanaries(targets)
	for _, line := range caught {
		fmt.Println(line)
	}
	if failed > 0 || !canaries {
		fmt.Printf("k8s-check: FAILED: %d of %d build(s) with findings; canaries all caught: %t\n", failed, len(targets), canaries)
		return 1
	}
	fmt.Printf("k8s-check: %d builds, %d objects, every one strictly decoded and checked\n", len(targets), objects)
	return 0
}

func names(targets []target) string {
	list := make([]string, 0, len(targets))
	for _, t := range targets {
		list = append(list, t.name)
	}
	sort.Strings(list)
	return strings.Join(list, ", ")
}
