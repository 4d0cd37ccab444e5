// Package channelconfig is a channel's configuration in every form Chorus
// handles it: the YAML channel definition an operator writes, the
// chorus.config.v1.ChannelConfig message that travels in CONFIG envelopes,
// the genesis block that carries the first one, and the Bundle a node
// builds to use one.
//
// # Forms and conversions
//
//	YAML ──ParseDefinition/LoadDefinition──▶ *Definition ──Config──▶ *configpb.ChannelConfig
//	YAML ◀──────────Marshal──────────────── *Definition ◀──DefinitionFromConfig──┘
//	*configpb.ChannelConfig ──GenesisBlock──▶ block 0 ──ConfigFromBlock──▶ *configpb.ChannelConfig
//	*configpb.ChannelConfig ──NewBundle──▶ *Bundle (MSPs, identity manager, compiled policies)
//
// A Definition leaves out what has a default; Config fills it in, so a
// configuration always holds every value explicitly. DefinitionFromConfig
// goes back with everything explicit and every certificate inline, so that
// `chorus channel config show` prints the whole configuration and parsing
// the printout gives the same configuration again. The YAML schema and its
// defaults are documented in docs/channel-definition.md.
//
// # Validation
//
// Validate is the one definition of a valid configuration; Config,
// GenesisBlock, ConfigFromBlock and NewBundle all apply it. It reports every
// problem it finds, not only the first, as an *InvalidError whose
// *FieldError paths are spelled as the YAML definition spells them
// ("consensus.consenters[1].tlsCert"), whether the configuration came from
// YAML or from a block: an operator reading an error finds the field in
// `chorus channel config show`. For a definition, each problem also carries
// its line.
//
// The format version only moves forward: a configuration with a newer
// format_version than FormatVersion, or with fields this build does not
// know, is refused with a message saying it was written by a newer Chorus.
//
// # Checking signatures against policies
//
// Every service asks the same question: do these signatures meet this
// channel policy? Bundle.CheckSigned answers it. Its errors fall into two
// classes that callers map to Fabric's statuses and validation codes:
//
//	*SignatureError (ErrBadSignature)        an identity not valid on the channel
//	                                         or a signature that does not verify:
//	                                         BAD_REQUEST; BAD_CREATOR_SIGNATURE
//	*PolicyError (ErrPolicyNotSatisfied)     valid signers who do not meet the policy:
//	                                         FORBIDDEN; the policy's own code
//
// A *PolicyError unwraps to the policy package's *NotSatisfiedError, which
// names the missing principals; a *SignatureError to the identity package's
// error (ErrExpired, ErrRevoked, ErrUnknownCA, ...).
//
// # Concurrency and state
//
// The package keeps no global state and starts no goroutines. Definitions
// are plain data owned by their caller. A Bundle is immutable once built
// and safe for concurrent use; a configuration change builds a new one.
// The clock that decides whether a certificate has expired is
// BundleOptions.Now.
package channelconfig
