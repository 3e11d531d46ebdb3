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

// TestPairedManifest: the paired Job serves two builds (two images) as sidecars on exactly the
// sockets scenarios/paired-builds.yaml's drivers name, shares the socket volume with the run, and
// runs that scenario and judges it with compare (whose exit 3 fails the Job).
func TestPairedManifest(t *testing.T) {
	var job batchv1.Job
	decode(t, "paired.yaml", &job)
	var scen struct {
		Drivers []struct {
			Name, Driver, Socket string
		} `json:"drivers"`
	}
	b, err := os.ReadFile("../../scenarios/paired-builds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &scen); err != nil {
		t.Fatal(err)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 || job.Spec.Parallelism == nil || *job.Spec.Parallelism != 1 {
		t.Errorf("paired: backoffLimit %v, parallelism %v: want 0 and 1 (one run, never repeated on another node)", job.Spec.BackoffLimit, job.Spec.Parallelism)
	}
	pod := job.Spec.Template.Spec
	sockets := map[string]string{} // socket → image
	mountsSockets := func(c corev1.Container) bool {
		for _, m := range c.VolumeMounts {
			if m.Name == "sockets" && m.MountPath == "/run/seedbench-paired" {
				return true
			}
		}
		return false
	}
	for _, c := range pod.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Errorf("paired: %s is not a sidecar (restartPolicy Always): the run would wait for it to exit", c.Name)
		}
		if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
			t.Errorf("paired: %s is not privileged (its server mounts and attaches loop devices)", c.Name)
		}
		if !mountsSockets(c) {
			t.Errorf("paired: %s does not mount the socket volume", c.Name)
		}
		args := strings.Join(c.Command, " ")
		m := regexp.MustCompile(`^seedbench serve --driver \S+ --socket (\S+)`).FindStringSubmatch(args)
		if m == nil {
			t.Errorf("paired: %s does not run seedbench serve --driver … --socket …: %s", c.Name, args)
			continue
		}
		sockets[m[1]] = c.Image
	}
	var want []string
	for _, d := range scen.Drivers {
		if d.Driver == "proxy" {
			want = append(want, d.Socket)
		}
	}
	if len(want) != 2 || len(sockets) != 2 {
		t.Fatalf("paired: sidecars serve %v, the scenario's proxy drivers name %v: want two, the same", sockets, want)
	}
	for _, s := range want {
		if _, ok := sockets[s]; !ok {
			t.Errorf("paired: no sidecar serves %s, which scenarios/paired-builds.yaml names", s)
		}
	}
	if sockets[want[0]] == sockets[want[1]] {
		t.Errorf("paired: both sides run image %s: the Job would compare a build with itself", sockets[want[0]])
	}
	if len(pod.Containers) != 1 || !mountsSockets(pod.Containers[0]) {
		t.Fatal("paired: want one run container, mounting the socket volume")
	}
	script := strings.Join(append(append([]string{}, pod.Containers[0].Command...), pod.Containers[0].Args...), " ")
	run := regexp.MustCompile(`seedbench run scenarios/paired-builds.yaml .*--out "(\$out)"`).FindStringSubmatch(script)
	if run == nil || !strings.Contains(script, `seedbench compare "$out"`) || strings.Contains(script, "|| true") {
		t.Errorf("paired: the run container must run scenarios/paired-builds.yaml into $out and end with compare's exit code: %s", script)
	}
}
