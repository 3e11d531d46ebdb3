package replay

import (
	"testing"

	"github.com/seedbench/seedbench/internal/scenario"
)

// TestRunners checks every op kind a scenario may name has a runner in the engine.
func TestRunners(t *testing.T) {
	for _, k := range scenario.OpKinds() {
		if runners[k] == nil {
			t.Errorf("op %s has no runner", k)
		}
	}
	if len(runners) != len(scenario.OpKinds()) {
		t.Errorf("%d runners for %d op kinds", len(runners), len(scenario.OpKinds()))
	}
}
