package policy

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	configpb "github.com/chorusledger/chorus/proto/chorus/config"
)

func TestDefaultOrgPolicies(t *testing.T) {
	tests := []struct {
		typ  OrgType
		want map[string]string
	}{
		{ApplicationOrg, map[string]string{
			Readers:     `OR('Org1MSP.admin','Org1MSP.peer','Org1MSP.client','Org1MSP.orderer')`,
			Writers:     `OR('Org1MSP.admin','Org1MSP.client')`,
			Admins:      `OR('Org1MSP.admin')`,
			Endorsement: `OR('Org1MSP.peer')`,
		}},
		{OrdererOrg, map[string]string{
			Readers:     `OR('Org1MSP.admin','Org1MSP.peer','Org1MSP.client','Org1MSP.orderer')`,
			Writers:     `OR('Org1MSP.admin','Org1MSP.client','Org1MSP.orderer')`,
			Admins:      `OR('Org1MSP.admin')`,
			Endorsement: `OR('Org1MSP.peer')`,
		}},
	}
	for _, tt := range tests {
		got, err := DefaultOrgPolicies("Org1MSP", tt.typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d policies, want %d", tt.typ, len(got), len(tt.want))
		}
		for name, text := range tt.want {
			if p := got[name]; p == nil || p.String() != text {
				t.Errorf("%s %s = %v, want %s", tt.typ, name, p, text)
			}
		}
	}
	if _, err := DefaultOrgPolicies("Org 1", ApplicationOrg); err == nil {
		t.Error("accepted a bad MSP id")
	}
	if _, err := DefaultOrgPolicies("Org1MSP", OrgType(5)); err == nil {
		t.Error("accepted an unknown organization type")
	}
}

func TestNewOrganization(t *testing.T) {
	custom := MustParseSignaturePolicy(`OR('Org1MSP.peer','Org1MSP.admin')`)
	o, err := NewOrganization("Org1MSP", OrdererOrg, map[string]Policy{Endorsement: custom, "Auditors": custom})
	if err != nil {
		t.Fatal(err)
	}
	if o.MSPID() != "Org1MSP" || o.Type() != OrdererOrg {
		t.Errorf("got %s %s", o.MSPID(), o.Type())
	}
	if got := strings.Join(o.PolicyNames(), " "); got != "Admins Auditors Endorsement Readers Writers" {
		t.Errorf("PolicyNames() = %s", got)
	}
	if p, _ := o.Policy(Endorsement); p != custom {
		t.Errorf("Endorsement not overridden: %v", p)
	}
	if p, _ := o.Policy(Writers); p.(*SignaturePolicy).String() != `OR('Org1MSP.admin','Org1MSP.client','Org1MSP.orderer')` {
		t.Errorf("Writers = %v", p)
	}
	if _, ok := o.Policy("Nope"); ok {
		t.Error("found a policy that does not exist")
	}

	if _, err := NewOrganization("Org1MSP", ApplicationOrg, map[string]Policy{Admins: nil}); err == nil {
		t.Error("accepted a nil override")
	}
	if _, err := NewOrganization("Org1MSP", ApplicationOrg, map[string]Policy{"bad name": custom}); err == nil {
		t.Error("accepted a bad policy name")
	}
	if _, err := NewOrganization("", ApplicationOrg, nil); err == nil || err.Error() != "policy: empty MSP id" {
		t.Errorf("empty MSP id: %v", err)
	}
}

func sig(text string) *configpb.Policy {
	return &configpb.Policy{Rule: &configpb.Policy_Signature{Signature: text}}
}

func implicit(rule configpb.ImplicitPolicy_Rule, sub string, scope configpb.ImplicitPolicy_Scope) *configpb.Policy {
	return &configpb.Policy{Rule: &configpb.Policy_Implicit{Implicit: &configpb.ImplicitPolicy{Rule: rule, SubPolicy: sub, Scope: scope}}}
}

func testChannelConfig() *configpb.ChannelConfig {
	return &configpb.ChannelConfig{
		ChannelId: "mychannel",
		Organizations: []*configpb.Organization{
			{MspId: "Org1MSP"},
			{MspId: "Org2MSP", Policies: map[string]*configpb.Policy{
				Endorsement: sig(`OR('Org2MSP.peer','Org2MSP.admin')`),
			}},
			// Org3 also runs orderers.
			{MspId: "Org3MSP"},
		},
		OrdererOrganizations: []*configpb.Organization{
			{MspId: "OrdererMSP"},
			{MspId: "Org3MSP"},
		},
		Policies: map[string]*configpb.Policy{
			"Readers":              implicit(configpb.ImplicitPolicy_ANY, Readers, configpb.ImplicitPolicy_CHANNEL),
			"Writers":              implicit(configpb.ImplicitPolicy_ANY, Writers, configpb.ImplicitPolicy_CHANNEL),
			"Admins":               implicit(configpb.ImplicitPolicy_MAJORITY, Admins, configpb.ImplicitPolicy_CHANNEL),
			"Endorsement":          implicit(configpb.ImplicitPolicy_MAJORITY, Endorsement, configpb.ImplicitPolicy_APPLICATION),
			"LifecycleEndorsement": sig(`AND('Org1MSP.peer','Org2MSP.peer')`),
			"BlockValidation":      implicit(configpb.ImplicitPolicy_ANY, Writers, configpb.ImplicitPolicy_ORDERER),
		},
	}
}

func TestChannelPolicies(t *testing.T) {
	pols, err := ChannelPolicies(testChannelConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		policy  string
		signers []string
		err     string // "" when met
	}{
		{"Readers", []string{"OrdererMSP.orderer"}, ""},
		{"Writers", []string{"OrdererMSP.peer"}, "policy: ANY Writers not satisfied: 0 of 4 organizations satisfied, need 1; not satisfied: Org1MSP, Org2MSP, Org3MSP, OrdererMSP"},
		// Four organizations in the channel scope: Org3MSP counts once.
		{"Admins", []string{"Org1MSP.admin", "Org2MSP.admin", "OrdererMSP.admin"}, ""},
		{"Admins", []string{"Org1MSP.admin", "Org2MSP.admin"}, "policy: MAJORITY Admins not satisfied: 2 of 4 organizations (Org1MSP, Org2MSP) satisfied, need 3; not satisfied: Org3MSP, OrdererMSP"},
		// Org2's own Endorsement policy accepts an admin.
		{"Endorsement", []string{"Org1MSP.peer", "Org2MSP.admin"}, ""},
		{"Endorsement", []string{"Org1MSP.peer", "Org2MSP.client"}, "policy: MAJORITY Endorsement not satisfied: 1 of 3 organizations (Org1MSP) satisfied, need 2; not satisfied: Org2MSP, Org3MSP"},
		{"LifecycleEndorsement", []string{"Org1MSP.peer"}, "policy: AND('Org1MSP.peer','Org2MSP.peer') not satisfied: missing Org2MSP.peer"},
		// Org3MSP's orderer definition lets its orderers write.
		{"BlockValidation", []string{"Org3MSP.orderer"}, ""},
		{"BlockValidation", []string{"Org1MSP.orderer"}, "policy: ANY Writers not satisfied: 0 of 2 organizations satisfied, need 1; not satisfied: OrdererMSP, Org3MSP"},
	}
	for _, tt := range tests {
		err := pols[tt.policy].Evaluate(signers(t, tt.signers...))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s with %v: %v", tt.policy, tt.signers, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("%s with %v =\n\t%v\nwant\n\t%s", tt.policy, tt.signers, err, tt.err)
		}
	}

	// In the channel scope an organization in both lists meets a policy
	// through either definition: Org3's orderer writes as an orderer org.
	err = pols["Writers"].Evaluate(signers(t, "Org3MSP.orderer"))
	if err != nil {
		t.Errorf("Org3 orderer as a channel writer: %v", err)
	}
	// When neither definition is met, both are reported.
	err = pols["Admins"].Evaluate(signers(t, "Org1MSP.admin", "Org2MSP.admin", "Org3MSP.peer"))
	var ns *NotSatisfiedError
	if !errors.As(err, &ns) || len(ns.Causes) != 2 {
		t.Fatalf("Admins: %v", err)
	}
	var sub *NotSatisfiedError
	if !errors.As(ns.Causes[0], &sub) ||
		sub.Error() != "policy: OR('Org3MSP.admin') or OR('Org3MSP.admin') not satisfied: missing Org3MSP.admin; and missing Org3MSP.admin" {
		t.Errorf("Org3's error: %v", ns.Causes[0])
	}
	if got := strings.Join(principalStrings(ns.Missing), " "); got != "Org3MSP.admin OrdererMSP.admin" {
		t.Errorf("Missing = %s", got)
	}
}

func TestChannelPoliciesErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*configpb.ChannelConfig)
		want   string
	}{
		{"bad signature", func(c *configpb.ChannelConfig) {
			c.Policies["Endorsement"] = sig(`AND('Org1MSP.peer' 'Org2MSP.peer')`)
		}, "policy: channel policy Endorsement: at offset 19: expected ',' or ')'"},
		{"unknown sub-policy", func(c *configpb.ChannelConfig) {
			c.Policies["Audit"] = implicit(configpb.ImplicitPolicy_ANY, "Auditors", configpb.ImplicitPolicy_APPLICATION)
		}, `policy: channel policy Audit: ANY Auditors: organization Org1MSP has no policy "Auditors"`},
		{"empty policy", func(c *configpb.ChannelConfig) {
			c.Policies["Empty"] = &configpb.Policy{}
		}, "policy: channel policy Empty: empty policy"},
		{"unknown scope", func(c *configpb.ChannelConfig) {
			c.Policies["Odd"] = implicit(configpb.ImplicitPolicy_ANY, Readers, configpb.ImplicitPolicy_Scope(9))
		}, "policy: channel policy Odd: ANY Readers: unknown scope 9"},
		{"unknown rule", func(c *configpb.ChannelConfig) {
			c.Policies["Odd"] = implicit(configpb.ImplicitPolicy_Rule(9), Readers, configpb.ImplicitPolicy_APPLICATION)
		}, "policy: channel policy Odd: implicit policy: unknown rule 9"},
		{"no orderer organizations", func(c *configpb.ChannelConfig) {
			c.OrdererOrganizations = nil
		}, "policy: channel policy BlockValidation: ANY Writers: no organizations in scope"},
		{"implicit organization policy", func(c *configpb.ChannelConfig) {
			c.Organizations[0].Policies = map[string]*configpb.Policy{Admins: implicit(configpb.ImplicitPolicy_ANY, Admins, configpb.ImplicitPolicy_APPLICATION)}
		}, "policy: organization Org1MSP: policy Admins: an organization's policies must be signature policies"},
		{"bad organization policy", func(c *configpb.ChannelConfig) {
			c.Organizations[0].Policies = map[string]*configpb.Policy{Admins: sig(`OR('Org1MSP.boss')`)}
		}, `policy: organization Org1MSP: policy Admins: at offset 12: unknown role "boss"`},
		{"duplicate organization", func(c *configpb.ChannelConfig) {
			c.Organizations = append(c.Organizations, &configpb.Organization{MspId: "Org1MSP"})
		}, "policy: application organization Org1MSP listed twice"},
		{"bad MSP id", func(c *configpb.ChannelConfig) {
			c.OrdererOrganizations[0].MspId = ""
		}, "policy: orderer organization: empty MSP id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testChannelConfig()
			tt.change(cfg)
			_, err := ChannelPolicies(cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	p, err := Compile(sig(`and('Org1MSP.peer', 'Org2MSP.peer')`), Organizations{})
	if err != nil {
		t.Fatal(err)
	}
	if sp, ok := p.(*SignaturePolicy); !ok || sp.String() != `AND('Org1MSP.peer','Org2MSP.peer')` {
		t.Fatalf("got %#v", p)
	}
	_, err = Compile(sig(`AND(`), Organizations{})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("syntax error is %T: %v", err, err)
	}
	if _, err := Compile(nil, Organizations{}); err == nil {
		t.Fatal("compiled a nil policy")
	}
}

func TestParseConfigPolicy(t *testing.T) {
	tests := []struct {
		in   string
		want *configpb.Policy
	}{
		{"MAJORITY Admins", implicit(configpb.ImplicitPolicy_MAJORITY, Admins, configpb.ImplicitPolicy_APPLICATION)},
		{"any Readers", implicit(configpb.ImplicitPolicy_ANY, Readers, configpb.ImplicitPolicy_APPLICATION)},
		{"ALL Writers", implicit(configpb.ImplicitPolicy_ALL, Writers, configpb.ImplicitPolicy_APPLICATION)},
		{"and('Org1MSP.peer', 'Org2MSP.peer')", sig(`AND('Org1MSP.peer','Org2MSP.peer')`)},
		{"'Org1MSP.admin'", sig(`'Org1MSP.admin'`)},
	}
	for _, tt := range tests {
		got, err := ParseConfigPolicy(tt.in)
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("ParseConfigPolicy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MAJORITY", "ANY Readers Writers", "AND('Org1MSP.peer'"} {
		if _, err := ParseConfigPolicy(bad); err == nil {
			t.Errorf("ParseConfigPolicy(%q) accepted", bad)
		}
	}
}
