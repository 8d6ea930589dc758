// SPDX-License-Identifier: BSD-2-Clause

package clock

// Tinker is the part of `tinker` that may change while the loop runs: the step and panic
// thresholds, the stepout interval and the Allan intercept. `tinker freq` is not among them:
// it sets the frequency, which a running loop has measured since.
type Tinker struct {
	StepFwd, StepBack, Stepout, Panic float64
	Allan                             int8
}

// SetTinker applies a reloaded `tinker` configuration (gontp's live reload; classic's
// loop_config does the same for each tinker line it reads): the next update uses the new
// thresholds.
func (d *Discipline) SetTinker(t Tinker) {
	if t.Allan == 0 {
		t.Allan = 11 // as New
	}
	d.p.StepFwd, d.p.StepBack, d.p.Stepout, d.p.Panic, d.p.Allan = t.StepFwd, t.StepBack, t.Stepout, t.Panic, t.Allan
}

// Tinker returns the thresholds in use.
func (d *Discipline) Tinker() Tinker {
	return Tinker{StepFwd: d.p.StepFwd, StepBack: d.p.StepBack, Stepout: d.p.Stepout, Panic: d.p.Panic, Allan: d.p.Allan}
}
