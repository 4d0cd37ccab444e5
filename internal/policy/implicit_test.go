package policy

import (
	"errors"
	"strings"
	"testing"
)

func threeOrgs(t *testing.T) []*Organization {
	t.Helper()
	var orgs []*Organization
	for _, id := range []string{"Org1MSP", "Org2MSP", "Org3MSP"} {
		o, err := NewOrganization(id, ApplicationOrg, nil)
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	return orgs
}

func TestImplicitPolicy(t *testing.T) {
	tests := []struct {
		policy  string
		signers []string
		err     string // "" when met
		unmet   []string
		missing []string
	}{
		{policy: "MAJORITY Admins", signers: []string{"Org1MSP.admin", "Org3MSP.admin"}},
		{
			policy: "MAJORITY Admins", signers: []string{"Org1MSP.admin", "Org2MSP.peer"},
			err:     "policy: MAJORITY Admins not satisfied: 1 of 3 organizations (Org1MSP) satisfied, need 2; not satisfied: Org2MSP, Org3MSP",
			unmet:   []string{"Org2MSP", "Org3MSP"},
			missing: []string{"Org2MSP.admin", "Org3MSP.admin"},
		},
		{policy: "ANY Readers", signers: []string{"Org3MSP.client"}},
		{
			policy: "ANY Readers", signers: nil,
			err:     "policy: ANY Readers not satisfied: 0 of 3 organizations satisfied, need 1; not satisfied: Org1MSP, Org2MSP, Org3MSP",
			unmet:   []string{"Org1MSP", "Org2MSP", "Org3MSP"},
			missing: []string{"Org1MSP.admin", "Org1MSP.peer", "Org1MSP.client", "Org1MSP.orderer", "Org2MSP.admin", "Org2MSP.peer", "Org2MSP.client", "Org2MSP.orderer", "Org3MSP.admin", "Org3MSP.peer", "Org3MSP.client", "Org3MSP.orderer"},
		},
		{policy: "ALL Writers", signers: []string{"Org1MSP.client", "Org2MSP.admin", "Org3MSP.client"}},
		{
			policy: "ALL Writers", signers: []string{"Org1MSP.client", "Org2MSP.admin", "Org3MSP.peer"},
			err:     "policy: ALL Writers not satisfied: 2 of 3 organizations (Org1MSP, Org2MSP) satisfied, need 3; not satisfied: Org3MSP",
			unmet:   []string{"Org3MSP"},
			missing: []string{"Org3MSP.admin", "Org3MSP.client"},
		},
		{
			// One signer may serve several organizations' policies, but a
			// signer only ever matches its own organization.
			policy: "MAJORITY Endorsement", signers: []string{"Org1MSP.peer", "Org1MSP.peer#2"},
			err:     "policy: MAJORITY Endorsement not satisfied: 1 of 3 organizations (Org1MSP) satisfied, need 2; not satisfied: Org2MSP, Org3MSP",
			unmet:   []string{"Org2MSP", "Org3MSP"},
			missing: []string{"Org2MSP.peer", "Org3MSP.peer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.policy+"/"+strings.Join(tt.signers, ","), func(t *testing.T) {
			spec, err := ParseImplicit(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewImplicitPolicy(spec, threeOrgs(t))
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tt.policy {
				t.Errorf("String() = %q", p.String())
			}
			err = p.Evaluate(signers(t, tt.signers...))
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Fatalf("Evaluate =\n\t%v\nwant\n\t%s", err, tt.err)
			}
			var ns *NotSatisfiedError
			if !errors.As(err, &ns) {
				t.Fatalf("error is %T", err)
			}
			if got := strings.Join(ns.UnsatisfiedOrgs, " "); got != strings.Join(tt.unmet, " ") {
				t.Errorf("UnsatisfiedOrgs = %s, want %s", got, strings.Join(tt.unmet, " "))
			}
			if got := strings.Join(principalStrings(ns.Missing), " "); got != strings.Join(tt.missing, " ") {
				t.Errorf("Missing = %s, want %s", got, strings.Join(tt.missing, " "))
			}
			if len(ns.Causes) != len(tt.unmet) {
				t.Fatalf("Causes = %v", ns.Causes)
			}
			// The organizations' own errors are reachable.
			var sub *NotSatisfiedError
			if !errors.As(ns.Causes[0], &sub) || !strings.HasPrefix(sub.Policy, "OR('"+tt.unmet[0]+".") {
				t.Errorf("first cause = %v", ns.Causes[0])
			}
		})
	}
}

func TestImplicitMajority(t *testing.T) {
	for total, need := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4} {
		if got := Majority.Need(total); got != need {
			t.Errorf("Majority.Need(%d) = %d, want %d", total, got, need)
		}
	}
	if Any.Need(5) != 1 || All.Need(5) != 5 {
		t.Error("Any or All need the wrong count")
	}
}

func TestImplicitPolicyOverride(t *testing.T) {
	// Org2's admins must sign twice over: two distinct admins.
	strict, err := NewOrganization("Org2MSP", ApplicationOrg, map[string]Policy{
		Admins: MustParseSignaturePolicy(`AND('Org2MSP.admin','Org2MSP.admin')`),
	})
	if err != nil {
		t.Fatal(err)
	}
	org1, _ := NewOrganization("Org1MSP", ApplicationOrg, nil)
	p, err := NewImplicitPolicy(Implicit{Rule: All, SubPolicy: Admins}, []*Organization{org1, strict})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Evaluate(signers(t, "Org1MSP.admin", "Org2MSP.admin"))
	var ns *NotSatisfiedError
	if !errors.As(err, &ns) || strings.Join(ns.UnsatisfiedOrgs, ",") != "Org2MSP" {
		t.Fatalf("one Org2 admin: %v", err)
	}
	if err := p.Evaluate(signers(t, "Org1MSP.admin", "Org2MSP.admin", "Org2MSP.admin#2")); err != nil {
		t.Fatalf("two Org2 admins: %v", err)
	}
}

func TestNewImplicitPolicyErrors(t *testing.T) {
	orgs := threeOrgs(t)
	tests := []struct {
		spec Implicit
		orgs []*Organization
		want string
	}{
		{Implicit{Majority, Admins}, nil, "policy: MAJORITY Admins: no organizations in scope"},
		{Implicit{Any, "Auditors"}, orgs, `policy: ANY Auditors: organization Org1MSP has no policy "Auditors"`},
		{Implicit{All, Admins}, []*Organization{orgs[0], orgs[1], orgs[0]}, "policy: ALL Admins: organization Org1MSP listed twice"},
		{Implicit{All, Admins}, []*Organization{orgs[0], nil}, "policy: ALL Admins: nil organization"},
		{Implicit{ImplicitRule(7), Admins}, orgs, "policy: ImplicitRule(7) Admins: unknown rule"},
		{Implicit{Any, ""}, orgs, "policy: ANY : empty policy name"},
	}
	for _, tt := range tests {
		_, err := NewImplicitPolicy(tt.spec, tt.orgs)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewImplicitPolicy(%v) = %v, want %s", tt.spec, err, tt.want)
		}
	}
}

func TestParseImplicit(t *testing.T) {
	good := map[string]Implicit{
		"ANY Readers":                {Any, "Readers"},
		"ALL Writers":                {All, "Writers"},
		"MAJORITY Admins":            {Majority, "Admins"},
		"  majority \t Endorsement ": {Majority, "Endorsement"},
		"Any LifecycleEndorsement":   {Any, "LifecycleEndorsement"},
	}
	for in, want := range good {
		got, err := ParseImplicit(in)
		if err != nil || got != want {
			t.Errorf("ParseImplicit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                      "want RULE NAME",
		"MAJORITY":              "want RULE NAME",
		"MAJORITY Admins extra": "want RULE NAME",
		"MOST Admins":           `unknown rule "MOST" (want ANY, ALL or MAJORITY)`,
		"ANY Read/ers":          `invalid character '/' in policy name "Read/ers"`,
		"AND('A.peer')":         "want RULE NAME",
	}
	for in, want := range bad {
		_, err := ParseImplicit(in)
		if err == nil || !strings.HasPrefix(err.Error(), "policy: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseImplicit(%q) = %v, want error containing %q", in, err, want)
		}
	}
}
