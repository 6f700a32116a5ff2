package console

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// publicOps are the operations that need no sign-in, so have no 401.
var publicOps = []string{
	"GET /api/v1/openapi.yaml",
	"POST /api/v1/login",
	"POST /api/v1/logout",
}

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIServer builds a Server without stores: NewServer only registers
// routes, and the store is not touched until a route that needs it runs.
func openAPIServer() *Server {
	return NewServer(Deps{}, time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
}

// openAPIDoc parses the embedded document.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if doc == nil {
		t.Fatal("openapi.yaml is empty")
	}
	return doc
}

// documentedOps lists the document's operations as "METHOD /path", with
// their operation objects.
func documentedOps(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.yaml has no paths")
	}
	ops := map[string]map[string]any{}
	for path, item := range paths {
		item, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%q] is not a path item", path)
			continue
		}
		for key, op := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			op, ok := op.(map[string]any)
			if !ok {
				t.Errorf("paths[%q][%s] is not an operation", path, key)
				continue
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

func TestOpenAPIParses(t *testing.T) {
	doc := openAPIDoc(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] != "riskwatch API" {
		t.Errorf("info.title = %v", info["title"])
	}
	if _, ok := info["version"].(string); !ok {
		t.Errorf("info.version = %v (%T), want a string", info["version"], info["version"])
	}
	schemes, _ := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	for _, name := range []string{"bearerToken", "sessionCookie", "csrfToken"} {
		if schemes[name] == nil {
			t.Errorf("components.securitySchemes.%s missing", name)
		}
	}
}

// pathParam matches a path template's variables, "{id}", and Go's "{rest...}".
var pathParam = regexp.MustCompile(`\{([^}/.]+)(\.\.\.)?\}`)

// TestOpenAPIMatchesRoutes keeps the document true: every registered route
// is documented, and every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := openAPIServer()
	doc := openAPIDoc(t)
	ops := documentedOps(t, doc)
	registered := map[string]bool{}
	for _, p := range s.Patterns() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("pattern %q has no method", p)
			continue
		}
		path = pathParam.ReplaceAllString(strings.TrimSuffix(path, "{$}"), "{$1}")
		key := method + " " + path
		registered[key] = true
		if ops[key] == nil {
			t.Errorf("route %q is not documented: add paths[%q].%s to openapi.yaml", p, path, strings.ToLower(method))
		}
	}
	if len(registered) == 0 {
		t.Fatal("the server registers no routes")
	}
	for key := range ops {
		if !registered[key] {
			t.Errorf("openapi.yaml documents %q, which the server does not register", key)
		}
	}
}

// TestOpenAPIOperations checks what every operation must say.
func TestOpenAPIOperations(t *testing.T) {
	doc := openAPIDoc(t)
	paths := doc["paths"].(map[string]any)
	for key, op := range documentedOps(t, doc) {
		if s, _ := op["summary"].(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s has no summary", key)
		}
		responses, _ := op["responses"].(map[string]any)
		ok2xx := false
		for code := range responses {
			ok2xx = ok2xx || strings.HasPrefix(code, "2")
		}
		if !ok2xx {
			t.Errorf("%s has no 2xx response", key)
		}
		public := slices.Contains(publicOps, key)
		if _, has401 := responses["401"]; !public && !has401 {
			t.Errorf("%s needs sign-in but documents no 401", key)
		}
		if sec, ok := op["security"].([]any); public && (!ok || len(sec) != 0) {
			t.Errorf("%s is public: want security: []", key)
		} else if !public && len(sec) == 0 {
			t.Errorf("%s needs sign-in: want its security requirements", key)
		}

		// Every variable of the path template is a documented path
		// parameter, of the operation or of its path item.
		_, path, _ := strings.Cut(key, " ")
		declared := map[string]bool{}
		item := paths[path].(map[string]any)
		for _, list := range []any{item["parameters"], op["parameters"]} {
			params, _ := list.([]any)
			for _, p := range params {
				p, _ := p.(map[string]any)
				if ref, ok := p["$ref"].(string); ok {
					p, _ = resolveRef(doc, ref).(map[string]any)
				}
				if p["in"] == "path" {
					declared[fmt.Sprint(p["name"])] = true
					if p["required"] != true {
						t.Errorf("%s: path parameter %v must be required", key, p["name"])
					}
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not documented", key, m[1])
			}
		}
	}
}

// resolveRef follows a local JSON pointer ("#/components/schemas/Case"),
// returning nil when it leads nowhere.
func resolveRef(doc map[string]any, ref string) any {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var node any = doc
	for _, part := range strings.Split(pointer, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		if node, ok = m[part]; !ok {
			return nil
		}
	}
	return node
}

// TestOpenAPIRefs checks that every $ref resolves to a component.
func TestOpenAPIRefs(t *testing.T) {
	doc := openAPIDoc(t)
	n := 0
	var walk func(where string, node any)
	walk = func(where string, node any) {
		switch v := node.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				n++
				s, _ := ref.(string)
				if !strings.HasPrefix(s, "#/components/") || resolveRef(doc, s) == nil {
					t.Errorf("%s: $ref %v does not resolve to a component", where, ref)
				}
			}
			for k, child := range v {
				walk(where+"/"+k, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s/%d", where, i), child)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Error("openapi.yaml has no $ref at all")
	}
}

// TestOpenAPIServed checks that the server answers the document itself.
func TestOpenAPIServed(t *testing.T) {
	s := openAPIServer()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.yaml", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %s", w.Code, w.Body)
	}
	media, _, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil || (media != "application/yaml" && media != "application/x-yaml" && media != "text/yaml") {
		t.Errorf("Content-Type = %q, want YAML", w.Header().Get("Content-Type"))
	}
	if w.Body.String() != string(openAPI) {
		t.Error("the body is not the embedded openapi.yaml")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc["openapi"] == nil {
		t.Errorf("the served document does not parse: %v", err)
	}
}
