// Package kubernetes holds the manifests that spread seedbench's shards over a cluster; its test
// decodes them strictly into Kubernetes' own types.
package kubernetes

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode reads a manifest into v strictly: an unknown or duplicated field is an error, as the API
// server's strict field validation makes it.
func decode(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestManifests: the Indexed Job runs one shard per completion index, each index's shard once
// (1/N…N/N), privileged, one pod per node, on the volume the merge Job reads; the merge Job joins
// exactly those N shard files.
func TestManifests(t *testing.T) {
	var shards, merge batchv1.Job
	var pvc corev1.PersistentVolumeClaim
	decode(t, "shards.yaml", &shards)
	decode(t, "merge.yaml", &merge)
	decode(t, "volume.yaml", &pvc)

	if shards.Kind != "Job" || shards.APIVersion != "batch/v1" || merge.Kind != "Job" || pvc.Kind != "PersistentVolumeClaim" {
		t.Fatalf("kinds: %s %s, %s, %s", shards.APIVersion, shards.Kind, merge.Kind, pvc.Kind)
	}
	s := shards.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("shards: completionMode %v, want Indexed (JOB_COMPLETION_INDEX names the shard)", s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism || *s.Completions < 2 {
		t.Fatalf("shards: completions %v, parallelism %v: want equal, at least 2", s.Completions, s.Parallelism)
	}
	n := int(*s.Completions)
	if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
		t.Errorf("shards: backoffLimit %v: a failed shard must not be re-run on another machine", s.BackoffLimit)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("shards: restartPolicy %s, want Never", pod.RestartPolicy)
	}
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != "kubernetes.io/hostname" {
		t.Error("shards: no required pod anti-affinity on kubernetes.io/hostname: two shards on one node would measure each other")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("shards: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("shards: the container is not privileged (seedbench mounts, attaches loop devices, serves FUSE)")
	}
	script := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
	if !strings.Contains(script, "JOB_COMPLETION_INDEX + 1") || !strings.Contains(script, `--shard "$i/`+strconv.Itoa(n)+`"`) {
		t.Errorf("shards: the command does not run shard JOB_COMPLETION_INDEX+1 of %d: %s", n, script)
	}
	if !strings.Contains(script, `/results/shard-$i.json`) {
		t.Errorf("shards: the command does not write /results/shard-$i.json: %s", script)
	}
	claim := func(job string, p corev1.PodSpec) string {
		for _, v := range p.Volumes {
			if v.Name == "results" && v.PersistentVolumeClaim != nil {
				return v.PersistentVolumeClaim.ClaimName
			}
		}
		t.Errorf("%s: no results volume from a claim", job)
		return ""
	}
	if a, b := claim("shards", pod), claim("merge", merge.Spec.Template.Spec); a != pvc.Name || b != pvc.Name {
		t.Errorf("claims: shards %q, merge %q, volume.yaml %q", a, b, pvc.Name)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("volume: access modes %v, want ReadWriteMany (shards on different nodes write it)", pvc.Spec.AccessModes)
	}

	// The merge joins shard-1…shard-N, each once.
	m := merge.Spec.Template.Spec.Containers
	if len(m) != 1 {
		t.Fatalf("merge: %d containers", len(m))
	}
	ms := strings.Join(append(append([]string{}, m[0].Command...), m[0].Args...), " ")
	line := regexp.MustCompile(`seedbench merge ([^;]*) -o `).FindStringSubmatch(ms)
	if line == nil {
		t.Fatalf("merge: no `seedbench merge … -o` in %s", ms)
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, "/results/shard-"+strconv.Itoa(i)+".json")
	}
	if got := strings.Fields(line[1]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("merge joins %v, want the %d shards %v", got, n, want)
	}
}
