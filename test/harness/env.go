package harness

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/concurflow/concurflow/sandbox"
)

// PipelineEnv returns the environment variables pipelines/kafka_to_concur.yaml
// reads, for a sandbox at url, the companies (at most five, connected to the
// first one's partner app) and the brokers. tokenStore is the refresh-token
// directory.
func PipelineEnv(url, brokers, tokenStore string, cos []Company) map[string]string {
	env := map[string]string{
		"KAFKA_BROKERS":         brokers,
		"CONCUR_URL":            url,
		"CONCUR_TOKEN_STORE":    tokenStore,
		"KAFKA_SESSION_TIMEOUT": "6s",
		"HTTP_ENABLED":          "false",
	}
	for i, co := range cos {
		if i == 0 {
			env["CLIENT_ID"], env["CLIENT_SECRET"] = co.ClientID, co.ClientSecret
		}
		env[fmt.Sprintf("COMPANY_ID_%d", i+1)] = co.ID
		env[fmt.Sprintf("REQUEST_TOKEN_%d", i+1)] = co.RequestToken
	}
	return env
}

// ParseSandboxOutput reads the output of `concurflow sandbox --seed n` until
// it has printed n companies, and returns the sandbox URL and the companies.
// Credentials printed before the first "# company" block (the partner app)
// apply to every company; keys may carry the company's number as a suffix
// (COMPANY_ID_2). It stops reading after the n-th company's ERP_ID.
func ParseSandboxOutput(r io.Reader, n int) (url string, cos []Company, err error) {
	sc := bufio.NewScanner(r)
	var app Company
	cur := -1
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# company ") {
			cur++
			c := app
			c.ID, c.ERPID, c.RequestToken = "", "", ""
			cos = append(cos, c)
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if i := strings.LastIndexByte(k, '_'); i > 0 && strings.Trim(k[i+1:], "0123456789") == "" {
			k = k[:i]
		}
		dst := &app
		if cur >= 0 {
			dst = &cos[cur]
		}
		switch k {
		case "CONCUR_URL":
			url = v
		case "COMPANY_ID":
			dst.ID = v
		case "CLIENT_ID":
			dst.ClientID = v
		case "CLIENT_SECRET":
			dst.ClientSecret = v
		case "REQUEST_TOKEN":
			dst.RequestToken = v
		case "ERP_ID":
			dst.ERPID = v
			if cur == n-1 {
				return url, cos, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("reading sandbox output: %w", err)
	}
	return "", nil, fmt.Errorf("sandbox output ended after %d of %d companies", len(cos), n)
}

// SeedCompanies seeds n companies in an in-process sandbox, each with a
// registered ERP, connected to the sandbox's default partner app.
func SeedCompanies(t testing.TB, sb *sandbox.Server, n int) []Company {
	t.Helper()
	cos := make([]Company, 0, n)
	for range n {
		co, err := sb.SeedCompany()
		if err != nil {
			t.Fatal(err)
		}
		erp, err := sb.RegisterERP(co.ID)
		if err != nil {
			t.Fatal(err)
		}
		cos = append(cos, Company{ID: co.ID, ERPID: erp, ClientID: co.ClientID, ClientSecret: co.ClientSecret, RequestToken: co.RequestToken})
	}
	return cos
}
