package stats

import "math"

// zeroin is R's R_zeroin2 (Brent's root finder as used by uniroot), step for
// step, so that on the step functions of rank statistics it lands where R
// lands. fa and fb are f(a) and f(b) with opposite signs; it stops when the
// bracket is within 2·eps·|b| + tol/2 or after maxit iterations. It returns
// R's root b and the other end c of the last bracket (c = b when f(b) = 0).
func zeroin(f func(float64) float64, ax, bx, fa, fb, tol float64, maxit int) (root, other float64) {
	const eps = 2.220446049250313e-16
	a, b := ax, bx
	c, fc := a, fa
	if fa == 0 {
		return a, a
	}
	if fb == 0 {
		return b, b
	}
	for range maxit + 1 {
		prevStep := b - a
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tolAct := 2*eps*math.Abs(b) + tol/2
		newStep := (c - b) / 2
		if fb == 0 {
			return b, b
		}
		if math.Abs(newStep) <= tolAct {
			return b, c
		}
		if math.Abs(prevStep) >= tolAct && math.Abs(fa) > math.Abs(fb) {
			var p, q float64
			cb := c - b
			if a == c {
				t1 := fb / fa
				p = cb * t1
				q = 1 - t1
			} else {
				q = fa / fc
				t1 := fb / fc
				t2 := fb / fa
				p = t2 * (cb*q*(q-t1) - (b-a)*(t1-1))
				q = (q - 1) * (t1 - 1) * (t2 - 1)
			}
			if p > 0 {
				q = -q
			} else {
				p = -p
			}
			if p < 0.75*cb*q-math.Abs(tolAct*q)/2 && p < math.Abs(prevStep*q/2) {
				newStep = p / q
			}
		}
		if math.Abs(newStep) < tolAct {
			if newStep > 0 {
				newStep = tolAct
			} else {
				newStep = -tolAct
			}
		}
		a, fa = b, fb
		b += newStep
		fb = f(b)
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa
		}
	}
	return b, c
}
