package server

import (
	"testing"
)

func TestMrkdwn(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*Deploy started* checkout", "<b>Deploy started</b> checkout"},
		{"*<https://g.example/d?a=1&amp;b=2|GO HERE>*  ·  <https://r.example|report>",
			`<b><a href="https://g.example/d?a=1&amp;b=2">GO HERE</a></b>  ·  <a href="https://r.example">report</a>`},
		{"by <@U024BE7LH>", `by <span class="mention">@U024BE7LH</span>`},
		{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"},
		// Raw markup, which Slack-escaped text never has, stays text.
		{`<script>alert(1)</script>`, "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{`<javascript:alert(1)|click>`, "&lt;javascript:alert(1)|click&gt;"},
		{`<https://x.example/"onmouseover="alert(1)|x>`, `<a href="https://x.example/&#34;onmouseover=&#34;alert(1)">x</a>`},
		{`<https://x.example/*a*|y>`, `<a href="https://x.example/%2Aa%2A">y</a>`},
	} {
		if got := string(mrkdwn(tc.in)); got != tc.want {
			t.Errorf("mrkdwn(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
