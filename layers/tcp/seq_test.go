package tcp

import "testing"

func TestSeqCompare(t *testing.T) {
	cases := []struct {
		a, b Seq
		less bool
	}{
		{0, 1, true},
		{1, 0, false},
		{0xffffffff, 0, true}, // wraps
		{0, 0xffffffff, false},
		{0xfffffff0, 0x10, true},
		{0x7fffffff, 0x80000000, true},
		{5, 5, false},
	}
	for _, c := range cases {
		if got := c.a.LessThan(c.b); got != c.less {
			t.Errorf("%#x < %#x = %v", c.a, c.b, got)
		}
		if got := c.b.GreaterThan(c.a); got != c.less {
			t.Errorf("%#x > %#x = %v", c.b, c.a, got)
		}
		if got := c.a.LessEq(c.b); got != (c.less || c.a == c.b) {
			t.Errorf("%#x <= %#x = %v", c.a, c.b, got)
		}
		if got := c.a.GreaterEq(c.b); got != !c.less {
			t.Errorf("%#x >= %#x = %v", c.a, c.b, got)
		}
	}
}

func TestSeqArith(t *testing.T) {
	if s := Seq(0xfffffffe).Add(3); s != 1 {
		t.Fatalf("add wrap %#x", s)
	}
	if s := Seq(1).Add(-3); s != 0xfffffffe {
		t.Fatalf("add negative %#x", s)
	}
	if d := Seq(1).Sub(0xfffffffe); d != 3 {
		t.Fatalf("sub wrap %d", d)
	}
	if d := Seq(0xfffffffe).Sub(1); d != -3 {
		t.Fatalf("sub negative %d", d)
	}
	if MaxSeq(0xfffffff0, 3) != 3 || MinSeq(0xfffffff0, 3) != 0xfffffff0 {
		t.Fatal("min/max across wrap")
	}
}

func TestSeqInWindow(t *testing.T) {
	cases := []struct {
		s, start Seq
		size     int
		in       bool
	}{
		{10, 10, 1, true},
		{10, 10, 0, false},
		{11, 10, 1, false},
		{9, 10, 100, false},
		{0, 0xfffffff0, 0x20, true},
		{0x10, 0xfffffff0, 0x20, false},
		{0xffffffff, 0xfffffff0, 0x10, true},
		{5, 0, 1 << 31, true},
		{0x80000000, 0, 1 << 31, false},
	}
	for _, c := range cases {
		if got := c.s.InWindow(c.start, c.size); got != c.in {
			t.Errorf("%#x in [%#x,+%d) = %v", c.s, c.start, c.size, got)
		}
	}
	if !Seq(0).InRange(0xfffffff0, 5) || Seq(6).InRange(0xfffffff0, 5) {
		t.Fatal("InRange across wrap")
	}
}
