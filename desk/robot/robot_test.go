package robot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// webhookTestToken is the access token in every test URL; it must never show
// up in an error.
const webhookTestToken = "tok9f8e7d6c5b4a3210"

// webhookTestNow is a fixed signing time: 2023-11-14T22:13:20Z.
var webhookTestNow = time.UnixMilli(1700000000000)

// webhookRecorder is an httptest robot that records the last request and
// answers with a fixed status and body.
type webhookRecorder struct {
	mu     sync.Mutex
	method string
	ctype  string
	query  url.Values
	raw    string // raw query
	body   []byte
	hits   int
}

func (r *webhookRecorder) server(t *testing.T, status int, answer string) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.method, r.ctype = req.Method, req.Header.Get("Content-Type")
		r.query, r.raw, r.body = req.URL.Query(), req.URL.RawQuery, b
		r.hits++
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func webhookTestURL(srv *httptest.Server, kind Kind) string {
	if kind == WeCom {
		return srv.URL + "/cgi-bin/webhook/send?key=" + webhookTestToken
	}
	return srv.URL + "/robot/send?access_token=" + webhookTestToken
}

const webhookOK = `{"errcode":0,"errmsg":"ok"}`

func TestWebhookPostBody(t *testing.T) {
	m := Message{Title: "红牌督办：张村土地纠纷", Markdown: "**已超期 3 天** <a> & b\n- 责任人：李四"}
	tests := []struct {
		kind Kind
		want map[string]any
	}{
		{DingTalk, map[string]any{
			"msgtype":  "markdown",
			"markdown": map[string]any{"title": m.Title, "text": m.Markdown},
		}},
		{WeCom, map[string]any{
			"msgtype":  "markdown",
			"markdown": map[string]any{"content": "### " + m.Title + "\n" + m.Markdown},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			var rec webhookRecorder
			srv := rec.server(t, http.StatusOK, webhookOK)
			w := Webhook{Kind: tt.kind, URL: webhookTestURL(srv, tt.kind)}
			if err := w.Post(context.Background(), srv.Client(), m, webhookTestNow); err != nil {
				t.Fatalf("Post: got %v, want nil", err)
			}
			if rec.method != http.MethodPost {
				t.Errorf("method: got %q, want POST", rec.method)
			}
			if !strings.HasPrefix(rec.ctype, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", rec.ctype)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.body, &got); err != nil {
				t.Fatalf("body %q: %v", rec.body, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("body: got %v, want %v", got, tt.want)
			}
			// Without a secret the URL must go out untouched.
			wantRaw := strings.SplitN(w.URL, "?", 2)[1]
			if rec.raw != wantRaw {
				t.Errorf("query: got %q, want %q", rec.raw, wantRaw)
			}
		})
	}
}

func TestWebhookWeComTitle(t *testing.T) {
	tests := []struct {
		name  string
		m     Message
		wantC string
	}{
		{"no title", Message{Markdown: "正文"}, "正文"},
		{"multiline title", Message{Title: "将到期\n王庄", Markdown: "正文"}, "### 将到期 王庄\n正文"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encode(WeCom, tt.m)
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Markdown struct{ Content string } }
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Markdown.Content != tt.wantC {
				t.Errorf("content: got %q, want %q", got.Markdown.Content, tt.wantC)
			}
		})
	}
}

func TestWebhookDingTalkSign(t *testing.T) {
	const secret = "SECtest0001"
	// Known answer, computed outside Go:
	//   printf '1700000000000\nSECtest0001' | openssl dgst -sha256 -hmac SECtest0001 -binary | base64
	const wantSign = "iK9eW9jtGBT4TttaiEbfCz5U5QFsyS/Rb/r8GW+V/x4="

	// And the same recomputed here from the documented recipe.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("1700000000000\n" + secret))
	if got := base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != wantSign {
		t.Fatalf("reference sign: got %q, want %q", got, wantSign)
	}

	tests := []struct {
		name    string
		path    string // appended to the server URL
		wantRaw string
	}{
		{"with token query", "/robot/send?access_token=" + webhookTestToken,
			"access_token=" + webhookTestToken + "&timestamp=1700000000000&sign=" + url.QueryEscape(wantSign)},
		{"without query", "/robot/send",
			"timestamp=1700000000000&sign=" + url.QueryEscape(wantSign)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec webhookRecorder
			srv := rec.server(t, http.StatusOK, webhookOK)
			w := Webhook{Kind: DingTalk, URL: srv.URL + tt.path, Secret: secret}
			if err := w.Post(context.Background(), srv.Client(), Message{Title: "t", Markdown: "m"}, webhookTestNow); err != nil {
				t.Fatalf("Post: got %v, want nil", err)
			}
			if rec.raw != tt.wantRaw {
				t.Errorf("raw query: got %q, want %q", rec.raw, tt.wantRaw)
			}
			if got := rec.query.Get("sign"); got != wantSign {
				t.Errorf("sign: got %q, want %q", got, wantSign)
			}
			if got := rec.query.Get("timestamp"); got != "1700000000000" {
				t.Errorf("timestamp: got %q, want %q", got, "1700000000000")
			}
		})
	}
}

func TestWebhookPostAnswers(t *testing.T) {
	tests := []struct {
		name          string
		kind          Kind
		status        int
		answer        string
		wantErr       bool
		wantRetryable bool
		wantInErr     string
	}{
		{"dingtalk ok", DingTalk, 200, webhookOK, false, false, ""},
		{"wecom ok", WeCom, 200, webhookOK, false, false, ""},
		{"dingtalk sign not match", DingTalk, 200, `{"errcode":310000,"errmsg":"sign not match"}`, true, false, "errcode 310000: sign not match"},
		{"dingtalk token not exist", DingTalk, 200, `{"errcode":300001,"errmsg":"token is not exist"}`, true, false, "errcode 300001"},
		{"dingtalk robot disabled", DingTalk, 200, `{"errcode":400102,"errmsg":"机器人已停用"}`, true, false, "errcode 400102"},
		{"dingtalk over monthly quota", DingTalk, 200, `{"errcode":90030,"errmsg":"webhook over limit"}`, true, false, "errcode 90030"},
		{"dingtalk send too fast", DingTalk, 200, `{"errcode":130101,"errmsg":"send too fast"}`, true, true, "errcode 130101"},
		{"dingtalk throttled", DingTalk, 200, `{"errcode":410100,"errmsg":"发送速度太快而限流"}`, true, true, "errcode 410100"},
		{"dingtalk busy", DingTalk, 200, `{"errcode":-1,"errmsg":"系统繁忙"}`, true, true, "errcode -1"},
		{"wecom invalid url", WeCom, 200, `{"errcode":93000,"errmsg":"invalid webhook url, hint: [1700000000123], more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}`, true, false, "errcode 93000: invalid webhook url"},
		{"wecom invalid msgtype", WeCom, 200, `{"errcode":40008,"errmsg":"invalid message type"}`, true, false, "errcode 40008"},
		{"wecom freq limit", WeCom, 200, `{"errcode":45009,"errmsg":"api freq out of limit"}`, true, true, "errcode 45009"},
		{"wecom concurrency limit", WeCom, 200, `{"errcode":45033,"errmsg":"api concurrent out of limit"}`, true, true, "errcode 45033"},
		{"dingtalk code is per kind", WeCom, 200, `{"errcode":130101,"errmsg":"?"}`, true, false, "errcode 130101"},
		{"unknown errcode", DingTalk, 200, `{"errcode":123456,"errmsg":"new"}`, true, false, "errcode 123456"},
		{"HTTP 503", DingTalk, 503, "busy", true, true, "post to dingtalk robot: HTTP 503"},
		{"HTTP 500", WeCom, 500, "", true, true, "post to wecom robot: HTTP 500"},
		{"HTTP 429", WeCom, 429, "", true, true, "HTTP 429"},
		{"HTTP 408", DingTalk, 408, "", true, true, "HTTP 408"},
		{"HTTP 400", DingTalk, 400, `{"errcode":0}`, true, false, "post to dingtalk robot: HTTP 400"},
		{"HTTP 404", WeCom, 404, "", true, false, "HTTP 404"},
		{"200 not json", DingTalk, 200, "<html>gateway</html>", true, true, "not a robot answer"},
		{"200 without errcode", WeCom, 200, `{"errmsg":"ok"}`, true, true, "not a robot answer"},
		{"200 answer beyond read bound", DingTalk, 200, strings.Repeat(" ", maxResponse) + webhookOK, true, true, "not a robot answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec webhookRecorder
			srv := rec.server(t, tt.status, tt.answer)
			w := Webhook{Kind: tt.kind, URL: webhookTestURL(srv, tt.kind)}
			if tt.kind == DingTalk {
				w.Secret = "SECtest0001"
			}
			err := w.Post(context.Background(), srv.Client(), Message{Title: "新案件", Markdown: "正文"}, webhookTestNow)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if got := Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable(%q): got %v, want %v", err, got, tt.wantRetryable)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantInErr)
			}
			webhookAssertNoSecrets(t, err, "SECtest0001")
		})
	}
}

// webhookAssertNoSecrets fails if err's text shows the token, the secret or
// any query of the URL.
func webhookAssertNoSecrets(t *testing.T, err error, secret string) {
	t.Helper()
	for _, s := range []string{webhookTestToken, "access_token", "key=", "sign=", "127.0.0.1"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q: got %q in it, want it absent", err, s)
		}
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("error %q: got the secret in it, want it absent", err)
	}
}

func TestWebhookErrmsgEchoingToken(t *testing.T) {
	var rec webhookRecorder
	srv := rec.server(t, http.StatusOK, `{"errcode":93000,"errmsg":"invalid key `+webhookTestToken+`"}`)
	w := Webhook{Kind: WeCom, URL: webhookTestURL(srv, WeCom)}
	err := w.Post(context.Background(), srv.Client(), Message{Title: "t", Markdown: "m"}, webhookTestNow)
	if err == nil {
		t.Fatal("err: got nil, want errcode 93000")
	}
	if !strings.Contains(err.Error(), "invalid key [redacted]") {
		t.Errorf("error: got %q, want the token replaced by [redacted]", err)
	}
	webhookAssertNoSecrets(t, err, "")
}

func TestWebhookNetworkError(t *testing.T) {
	for _, kind := range []Kind{DingTalk, WeCom} {
		t.Run(string(kind), func(t *testing.T) {
			var rec webhookRecorder
			srv := rec.server(t, http.StatusOK, webhookOK)
			w := Webhook{Kind: kind, URL: webhookTestURL(srv, kind)}
			client := srv.Client()
			srv.Close() // nothing listens any more: connection refused
			err := w.Post(context.Background(), client, Message{Title: "t", Markdown: "m"}, webhookTestNow)
			if err == nil {
				t.Fatal("err: got nil, want a network error")
			}
			if !Retryable(err) {
				t.Errorf("Retryable(%q): got false, want true", err)
			}
			if want := "post to " + string(kind) + " robot: "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error: got %q, want prefix %q", err, want)
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				t.Errorf("error wraps *url.Error %q, whose text holds the token; want it unwrapped", ue)
			}
			// The server's address is fine in a network error; the query is not.
			if strings.Contains(err.Error(), webhookTestToken) || strings.Contains(err.Error(), "?") {
				t.Errorf("error: got %q, want no URL query in it", err)
			}
		})
	}
}

func TestWebhookContextCancelled(t *testing.T) {
	var rec webhookRecorder
	srv := rec.server(t, http.StatusOK, webhookOK)
	w := Webhook{Kind: DingTalk, URL: webhookTestURL(srv, DingTalk)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Post(ctx, srv.Client(), Message{Title: "t", Markdown: "m"}, webhookTestNow)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err: got %v, want context.Canceled", err)
	}
	if !Retryable(err) {
		t.Errorf("Retryable(%q): got false, want true (the robot never refused it)", err)
	}
	webhookAssertNoSecrets(t, err, "")
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	var rec webhookRecorder
	elsewhere := rec.server(t, http.StatusOK, webhookOK)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/limited", http.StatusFound)
	}))
	defer srv.Close()
	w := Webhook{Kind: DingTalk, URL: webhookTestURL(srv, DingTalk)}
	err := w.Post(context.Background(), srv.Client(), Message{Title: "t", Markdown: "m"}, webhookTestNow)
	if err == nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Fatalf("err: got %v, want HTTP 302", err)
	}
	if !Retryable(err) {
		t.Errorf("Retryable(%q): got false, want true", err)
	}
	if rec.hits != 0 {
		t.Errorf("redirect target hits: got %d, want 0", rec.hits)
	}
}

func TestWebhookInvalidIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		w    Webhook
		m    Message
	}{
		{"bad kind", Webhook{Kind: "feishu", URL: "https://example.com/hook?token=" + webhookTestToken}, Message{Title: "t"}},
		{"bad scheme", Webhook{Kind: WeCom, URL: "ftp://example.com/hook?key=" + webhookTestToken}, Message{Title: "t"}},
		{"empty message", Webhook{Kind: WeCom, URL: "https://example.com/hook?key=" + webhookTestToken}, Message{Title: " ", Markdown: "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Post(context.Background(), nil, tt.m, webhookTestNow)
			if err == nil {
				t.Fatal("err: got nil, want an error")
			}
			if Retryable(err) {
				t.Errorf("Retryable(%q): got true, want false", err)
			}
			webhookAssertNoSecrets(t, err, "")
		})
	}
}

func TestWebhookTruncation(t *testing.T) {
	long := strings.Repeat("张村与李村因宅基地边界发生纠纷，调解员已上门两次。", 2000) // ~ 150 KB
	tests := []struct {
		kind  Kind
		limit int
		field func(body []byte) string
	}{
		{DingTalk, dingTalkMaxText, func(b []byte) string {
			var v struct{ Markdown struct{ Text string } }
			json.Unmarshal(b, &v)
			return v.Markdown.Text
		}},
		{WeCom, weComMaxContent, func(b []byte) string {
			var v struct{ Markdown struct{ Content string } }
			json.Unmarshal(b, &v)
			return v.Markdown.Content
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			var rec webhookRecorder
			srv := rec.server(t, http.StatusOK, webhookOK)
			w := Webhook{Kind: tt.kind, URL: webhookTestURL(srv, tt.kind)}
			if err := w.Post(context.Background(), srv.Client(), Message{Title: "黄牌督办", Markdown: long}, webhookTestNow); err != nil {
				t.Fatalf("Post: got %v, want nil", err)
			}
			got := tt.field(rec.body)
			if len(got) > tt.limit {
				t.Errorf("length: got %d bytes, want at most %d", len(got), tt.limit)
			}
			if len(got) < tt.limit-utf8.UTFMax-len("…") {
				t.Errorf("length: got %d bytes, want close to %d", len(got), tt.limit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("got invalid UTF-8, want valid")
			}
			if strings.ContainsRune(got, utf8.RuneError) {
				t.Errorf("got U+FFFD in the text, want a cut between runes")
			}
			if !strings.HasSuffix(got, "…") {
				t.Errorf("got suffix %q, want …", got[len(got)-6:])
			}
		})
	}
}

func TestWebhookTruncate(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "…"},
		{"abcdef", 5, "ab…"},
		{"纠纷调解", 12, "纠纷调解"}, // exactly 12 bytes: kept
		{"纠纷调解", 11, "纠纷…"},  // 8 bytes would split 调
		{"纠纷调解", 9, "纠纷…"},   // exact fit
		{"纠纷调解", 8, "纠…"},    // 5 bytes would split 纷
		{"纠纷调解", 2, ""},      // not even the ellipsis fits
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.max); got != tt.want {
			t.Errorf("truncate(%q, %d): got %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestWebhookValidate(t *testing.T) {
	tests := []struct {
		name    string
		w       Webhook
		wantErr string // "" for valid
	}{
		{"dingtalk", Webhook{Kind: DingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=x"}, ""},
		{"dingtalk signed", Webhook{Kind: DingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=x", Secret: "SECx"}, ""},
		{"wecom", Webhook{Kind: WeCom, URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"}, ""},
		{"https intranet", Webhook{Kind: WeCom, URL: "https://10.0.0.8:8443/send?key=x"}, ""}, // which hosts: the Allowlist's to say
		{"http", Webhook{Kind: WeCom, URL: "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + webhookTestToken}, "not https"},
		{"upper-case scheme", Webhook{Kind: WeCom, URL: "HTTPS://qyapi.weixin.qq.com/send?key=x"}, ""},
		{"kind missing", Webhook{URL: "https://example.com/"}, "kind is missing"},
		{"kind unknown", Webhook{Kind: "DingTalk", URL: "https://example.com/"}, "unknown kind"},
		{"url missing", Webhook{Kind: DingTalk}, "url is missing"},
		{"url scheme", Webhook{Kind: DingTalk, URL: "ftp://example.com/x"}, "not https"},
		{"url without scheme", Webhook{Kind: DingTalk, URL: "oapi.dingtalk.com/robot/send?access_token=x"}, "not https"},
		{"url without host", Webhook{Kind: DingTalk, URL: "https:///robot/send"}, "no host"},
		{"url unparsable", Webhook{Kind: DingTalk, URL: "https://exa mple.com/%zz?access_token=" + webhookTestToken}, "does not parse"},
		{"secret on wecom", Webhook{Kind: WeCom, URL: "https://qyapi.weixin.qq.com/send?key=x", Secret: "s"}, "secret is only used by dingtalk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: got %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate: got nil, want error containing %q", tt.wantErr)
			case err != nil && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate: got %q, want error containing %q", err, tt.wantErr)
			}
			if err != nil {
				webhookAssertNoSecrets(t, err, "")
			}
		})
	}
}

func TestWebhookRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=abc123", "https://oapi.dingtalk.com/robot/send"},
		{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc#frag", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"},
		{"http://user:pw@10.0.0.8:8080/send?key=abc", "http://10.0.0.8:8080/send"},
		{"oapi.dingtalk.com/robot/send?access_token=abc", "(invalid url)"},
		{"https://exa mple.com/?access_token=abc", "(invalid url)"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWebhookSecretNotInJSON(t *testing.T) {
	b, err := json.Marshal(Webhook{Kind: DingTalk, URL: "https://x/", Secret: "SECdonotleak"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECdonotleak") {
		t.Errorf("json: got %s, want no secret", b)
	}
}

func TestWebhookRetryableNil(t *testing.T) {
	if Retryable(nil) {
		t.Error("Retryable(nil): got true, want false")
	}
}
