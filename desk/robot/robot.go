// Package robot posts notifications to the group robots of DingTalk (钉钉)
// and WeCom (企业微信) that the resolution desks read: the message formats,
// 加签 signing, the robots' errcodes told apart as retryable or not, and
// errors that never print a robot's access token.
package robot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the format of a group-robot webhook.
type Kind string

// Robot kinds. The values appear in desk configuration files: never rename
// them.
const (
	DingTalk Kind = "dingtalk" // 钉钉自定义机器人
	WeCom    Kind = "wecom"    // 企业微信群机器人
)

// Webhook is one notification endpoint of a desk.
//
// URL carries the robot's access token in its query (DingTalk access_token,
// WeCom key), so treat it as a secret: log it only through Redact.
type Webhook struct {
	Kind   Kind   `yaml:"kind" json:"kind"`
	URL    string `yaml:"url" json:"url"`
	Secret string `yaml:"secret,omitempty" json:"-"` // DingTalk 加签 secret; never serialised to JSON
}

// Message is what a robot posts: a title and markdown text.
type Message struct {
	// Title is the DingTalk conversation-list preview and the WeCom heading.
	Title string
	// Markdown is the body, in the markdown subset both robots render.
	Markdown string
}

// Size limits of the robots' markdown messages, in bytes. WeCom documents
// 4096 bytes for markdown.content; DingTalk documents none for markdown but
// rejects texts of about 20000 bytes and more.
const (
	dingTalkMaxText = 20000
	weComMaxContent = 4096
)

// maxResponse bounds how much of a robot's answer is read: the real
// answer is a few dozen bytes, and a misconfigured URL may point anywhere.
const maxResponse = 64 << 10

// maxErrmsg bounds the robot's errmsg quoted in an error; WeCom's carry
// a hint and a help link, and logs need only the gist.
const maxErrmsg = 200

// errPermanent marks failures that retrying will not fix. It is
// unexported so that callers ask Retryable instead of depending on it.
var errPermanent = errors.New("permanent webhook failure")

// Retryable reports whether err, returned by Post, may succeed if the same
// message is posted again later: network errors and timeouts (including a
// cancelled context, since the robot never refused the message), HTTP 5xx,
// 408 and 429, redirects, unreadable answers and the robots' rate-limit and
// "system busy" errcodes. It is false for nil and for permanent failures:
// an invalid Webhook or Message, other HTTP 4xx, and every other errcode
// (bad token, signature or keyword mismatch, disabled robot, bad content).
func Retryable(err error) bool {
	return err != nil && !errors.Is(err, errPermanent)
}

// postError is Post's error. Its text never contains the URL's query or
// the secret, and it deliberately does not wrap *url.Error, whose text holds
// the full URL with its token.
type postError struct {
	msg       string
	permanent bool
	cause     error // network or context error, for errors.Is; may be nil
}

func (e *postError) Error() string { return e.msg }

func (e *postError) Unwrap() []error {
	var errs []error
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.permanent {
		errs = append(errs, errPermanent)
	}
	return errs
}

// Validate reports a missing/unknown kind or a URL that is not https (a
// robot's token must not cross the network in clear). Which hosts a robot
// may be on is the Allowlist's to say. Its errors never quote the URL, which
// carries the access token.
func (w Webhook) Validate() error {
	switch w.Kind {
	case DingTalk, WeCom:
	case "":
		return errors.New("webhook: kind is missing")
	default:
		return fmt.Errorf("webhook: unknown kind %q (want %q or %q)", w.Kind, DingTalk, WeCom)
	}
	if w.URL == "" {
		return errors.New("webhook: url is missing")
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL: drop it.
		return errors.New("webhook: url does not parse")
	}
	if u.Scheme != "https" {
		return fmt.Errorf("webhook: url scheme %q is not https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("webhook: url has no host")
	}
	// A secret on a WeCom hook would be silently ignored; WeCom robots do not
	// sign, so whoever set it believes a protection exists that does not.
	if w.Secret != "" && w.Kind != DingTalk {
		return fmt.Errorf("webhook: secret is only used by %s robots", DingTalk)
	}
	return nil
}

// Post sends m once to w and reports whether it was accepted: nil means the
// robot answered errcode 0. It does not retry; callers retry errors for which
// Retryable is true. now is the signing time of DingTalk 加签 (the robot
// rejects timestamps more than an hour off). The client says where posts
// may go: give Allowlist.Client, whose refusals (a host not listed, an
// address not public) are permanent errors; a nil client means
// http.DefaultClient, which goes anywhere. Pass a ctx with a deadline.
// Redirects are never followed: robots do not redirect (except DingTalk's
// throttling 302), and following one would send the token in the Referer.
func (w Webhook) Post(ctx context.Context, client *http.Client, m Message, now time.Time) error {
	if err := w.Validate(); err != nil {
		return &postError{msg: "post to robot: " + err.Error(), permanent: true}
	}
	prefix := "post to " + string(w.Kind) + " robot: "
	if strings.TrimSpace(m.Title) == "" && strings.TrimSpace(m.Markdown) == "" {
		return &postError{msg: prefix + "empty message", permanent: true}
	}
	u, _ := url.Parse(w.URL) // Validate parsed it
	scrub := func(s string) string { return scrub(s, u, w.Secret) }

	body, err := encode(w.Kind, m)
	if err != nil {
		return &postError{msg: prefix + "encode: " + scrub(err.Error()), permanent: true}
	}
	target := w.URL
	if w.Kind == DingTalk && w.Secret != "" {
		target = signURL(w.URL, u.RawQuery != "", w.Secret, now)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &postError{msg: prefix + "build request: " + scrub(unwrapURLError(err).Error()), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	c := http.DefaultClient
	if client != nil {
		c = client
	}
	noRedirect := *c // a copy, so the caller's client is left as it was
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := noRedirect.Do(req)
	if err != nil {
		cause := unwrapURLError(err)
		var refused *refusedError
		return &postError{msg: prefix + scrub(cause.Error()), cause: cause, permanent: errors.As(cause, &refused)}
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return &postError{msg: fmt.Sprintf("%sHTTP %d", prefix, code)}
	case code >= 400 && code < 500:
		return &postError{msg: fmt.Sprintf("%sHTTP %d", prefix, code), permanent: true}
	default: // 5xx, and 3xx: DingTalk answers 302 to a robot it is throttling
		return &postError{msg: fmt.Sprintf("%sHTTP %d", prefix, code)}
	}
	if readErr != nil {
		return &postError{msg: prefix + "read answer: " + scrub(readErr.Error()), cause: readErr}
	}

	var ans struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	// A 2xx without a robot answer is most likely a proxy or gateway page:
	// retryable, and not success, since nothing says the robot posted it.
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Errcode == nil {
		return &postError{msg: fmt.Sprintf("%sHTTP %d: not a robot answer (%d bytes)", prefix, resp.StatusCode, len(raw))}
	}
	if *ans.Errcode == 0 {
		return nil
	}
	msg := fmt.Sprintf("%serrcode %d", prefix, *ans.Errcode)
	if e := strings.TrimSpace(ans.Errmsg); e != "" {
		msg += ": " + truncate(scrub(e), maxErrmsg)
	}
	return &postError{msg: msg, permanent: !retryableErrcode(w.Kind, *ans.Errcode)}
}

// retryableErrcodes are the errcodes, sent with HTTP 200, that mean
// "not now" rather than "never". Every other non-zero errcode is permanent:
// the robots' errcodes are overwhelmingly configuration or content errors,
// and retrying those only spends the robot's 20-messages-a-minute budget.
// Known permanent codes, for reference:
//
//	DingTalk 310000 security setting not met: sign not match, keywords not
//	                in content, IP not in whitelist, stale timestamp
//	DingTalk 300001, 300005, 400101  token does not exist
//	DingTalk 400102 robot disabled; 400106 robot does not exist;
//	         400013 group dissolved; 400105 unsupported msgtype
//	DingTalk 430101–430104  content rejected by content security
//	DingTalk 90030  webhook over limit (the org's monthly quota: retrying
//	                within minutes cannot help)
//	WeCom    93000  invalid webhook url (bad key)
//	WeCom    40008  invalid message type
//	WeCom    93004  robot disabled; 93008 robot not in the group
//	WeCom    40058, 44004, 45002  missing, empty or oversized content
var retryableErrcodes = map[Kind]map[int]bool{
	DingTalk: {
		-1:     true, // 系统繁忙
		130101: true, // send too fast, exceed 20 times per minute
		410100: true, // 发送速度太快而限流
	},
	WeCom: {
		-1:    true, // 系统繁忙
		45009: true, // api freq out of limit (20 messages a minute per robot)
		45033: true, // api concurrent out of limit
	},
}

func retryableErrcode(kind Kind, code int) bool {
	return retryableErrcodes[kind][code]
}

// encode encodes m in the markdown message format of kind, cut to the
// robot's size limit so that a long message arrives truncated, not refused.
func encode(kind Kind, m Message) ([]byte, error) {
	var v any
	switch kind {
	case DingTalk:
		type markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		v = struct {
			Msgtype  string   `json:"msgtype"`
			Markdown markdown `json:"markdown"`
		}{"markdown", markdown{m.Title, truncate(m.Markdown, dingTalkMaxText)}}
	case WeCom:
		content := m.Markdown
		// A line break in the title would end the heading early.
		if t := strings.TrimSpace(oneLine.Replace(m.Title)); t != "" {
			content = "### " + t + "\n" + m.Markdown
		}
		type markdown struct {
			Content string `json:"content"`
		}
		v = struct {
			Msgtype  string   `json:"msgtype"`
			Markdown markdown `json:"markdown"`
		}{"markdown", markdown{truncate(content, weComMaxContent)}}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<", ">" and "&" readable in the markdown
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// signURL appends DingTalk's 加签 parameters to rawURL:
// sign = urlescape(base64(HMAC-SHA256(secret, timestamp_ms + "\n" + secret))).
func signURL(rawURL string, hasQuery bool, secret string, now time.Time) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sep := "?"
	if hasQuery {
		sep = "&"
	}
	return rawURL + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sign)
}

// truncate cuts s to at most max bytes, ending with "…" when cut, and
// never splits a UTF-8 sequence (the robots reject invalid UTF-8).
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	if cut < 0 {
		return ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// unwrapURLError drops the *url.Error layer, whose text quotes the
// full request URL and so the token.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// scrub removes from s anything of u's query and the secret. Errors
// should not contain them in the first place; this is the second line, for
// texts we do not control (transport errors, the robot's errmsg).
func scrub(s string, u *url.URL, secret string) string {
	var secrets []string
	if u != nil && u.RawQuery != "" {
		secrets = append(secrets, u.RawQuery)
		for _, kv := range strings.Split(u.RawQuery, "&") {
			_, v, _ := strings.Cut(kv, "=")
			secrets = append(secrets, v)
			if dv, err := url.QueryUnescape(v); err == nil {
				secrets = append(secrets, dv)
			}
		}
	}
	if secret != "" {
		secrets = append(secrets, secret)
	}
	for _, sec := range secrets {
		// Short values (say "1") are not tokens, and replacing them would
		// garble the message.
		if len(sec) >= 6 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// Redact gives scheme://host/path of rawURL without userinfo, query
// or fragment, for logs: the query holds the robot's access token.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(invalid url)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
