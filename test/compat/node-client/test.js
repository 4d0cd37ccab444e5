// Drives a Chorus network with Hyperledger Fabric's Gateway client for
// Node.js (@hyperledger/fabric-gateway), unmodified, over TLS, with
// Org1MSP's client identity. The network's assets contract must be defined
// with AND('Org1MSP.peer','Org2MSP.peer').
//
//   CHORUS_PROFILE=/path/to/profiles/Org1MSP.json node test.js
//
// Each check prints one line; the script exits non-zero on the first
// failure.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { connect, signers, GatewayError, EndorseError, CommitError } = require('@hyperledger/fabric-gateway');

const profilePath = process.env.CHORUS_PROFILE;
if (!profilePath) {
    console.error('set CHORUS_PROFILE to a Chorus client profile (profiles/Org1MSP.json)');
    process.exit(2);
}
const profileDir = path.dirname(profilePath);
const profile = JSON.parse(fs.readFileSync(profilePath, 'utf8'));
const file = (p) => fs.readFileSync(path.isAbsolute(p) ? p : path.join(profileDir, p));

const utf8 = new TextDecoder();
const deadline = (ms) => () => ({ deadline: Date.now() + ms });

function check(cond, what) {
    if (!cond) {
        throw new Error('FAILED: ' + what);
    }
    console.log('ok - ' + what);
}

async function main() {
    const client = new grpc.Client(profile.endpoint, grpc.credentials.createSsl(file(profile.tlsRootCertPath)), {
        'grpc.ssl_target_name_override': profile.serverName,
    });
    const gateway = connect({
        client,
        identity: { mspId: profile.mspId, credentials: file(profile.certPath) },
        signer: signers.newPrivateKeySigner(crypto.createPrivateKey(file(profile.keyPath))),
        evaluateOptions: deadline(30000),
        endorseOptions: deadline(60000),
        submitOptions: deadline(60000),
        commitStatusOptions: deadline(60000),
    });
    try {
        const network = gateway.getNetwork(profile.channel);
        const contract = network.getContract('assets');
        const id = 'node-' + crypto.randomBytes(6).toString('hex');

        // Events: start listening before the transactions.
        const events = await network.getChaincodeEvents('assets');
        const seen = [];
        const eventsDone = (async () => {
            for await (const event of events) {
                seen.push(event);
                if (seen.some((e) => e.eventName === 'TransferAsset' && utf8.decode(e.payload).includes(id))) {
                    return;
                }
            }
        })();

        // Submit and wait for the commit status.
        const created = await contract.submitTransaction('CreateAsset', id, 'blue', '5', 'Tom', '300');
        check(created !== undefined, 'submitTransaction(CreateAsset) committed');

        // Evaluate.
        const asset = JSON.parse(utf8.decode(await contract.evaluateTransaction('ReadAsset', id)));
        check(asset.ID === id && asset.Owner === 'Tom' && asset.AppraisedValue === 300, 'evaluateTransaction(ReadAsset) returns the asset');

        // The fine-grained flow, with the transaction id checked.
        const proposal = contract.newProposal('TransferAsset', { arguments: [id, 'Alice'] });
        const txId = proposal.getTransactionId();
        check(/^[0-9a-f]{64}$/.test(txId), 'the proposal has a Fabric transaction id');
        const transaction = await proposal.endorse();
        check(transaction.getTransactionId() === txId, 'the endorsed transaction keeps the transaction id');
        check(utf8.decode(transaction.getResult()) === 'Tom', 'the endorsed result is the old owner');
        const commit = await transaction.submit();
        const status = await commit.getStatus();
        check(status.successful && status.code === 0 && status.transactionId === txId && status.blockNumber > 0n,
            `getStatus() is VALID in block ${status.blockNumber}`);

        // A failed evaluation surfaces as a GatewayError with details.
        try {
            await contract.evaluateTransaction('ReadAsset', 'no-such-asset-' + id);
            check(false, 'evaluating a missing asset fails');
        } catch (err) {
            check(err instanceof GatewayError && err.code === grpc.status.UNKNOWN && err.details.length === 1 &&
                err.details[0].message.includes('does not exist'),
                `a failed evaluate is a GatewayError (code ${err.code}, ${err.details?.length} detail: ${err.details?.[0]?.message})`);
        }

        // A failed endorsement surfaces as an EndorseError with details.
        try {
            await contract.submitTransaction('CreateAsset', id, 'red', '1', 'Eve', '1');
            check(false, 'creating an existing asset fails');
        } catch (err) {
            check(err instanceof EndorseError && err.code === grpc.status.ABORTED && err.details.length >= 1 &&
                err.transactionId.length === 64 && err.details.some((d) => d.message.includes('already exists')),
                `a failed endorsement is an EndorseError (code ${err.code}: ${err.details?.map((d) => d.mspId + ': ' + d.message).join('; ')})`);
        }

        // A stale read: two transfers endorsed against the same version.
        const first = await contract.newProposal('TransferAsset', { arguments: [id, 'Bob'] }).endorse();
        const second = await contract.newProposal('TransferAsset', { arguments: [id, 'Carl'] }).endorse();
        const firstStatus = await (await first.submit()).getStatus();
        check(firstStatus.successful, 'the first of two competing transfers commits');
        try {
            await second.submit().then((c) => c.getStatus()).then((s) => {
                if (!s.successful) {
                    throw new CommitError({ message: 'commit failed', code: s.code, transactionId: s.transactionId });
                }
            });
            check(false, 'the second competing transfer fails');
        } catch (err) {
            check(err instanceof CommitError && err.code === 11, `the stale read gives commit code ${err.code} (MVCC_READ_CONFLICT)`);
        }

        // Contract events arrive with their transaction ids.
        let timer;
        const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('no events within 30 s')), 30000); });
        await Promise.race([eventsDone, timeout]).finally(() => clearTimeout(timer));
        events.close();
        const createEvent = seen.find((e) => e.eventName === 'CreateAsset' && utf8.decode(e.payload).includes(id));
        const transferEvent = seen.find((e) => e.eventName === 'TransferAsset' && e.transactionId === txId);
        check(createEvent !== undefined && createEvent.chaincodeName === 'assets' && createEvent.blockNumber > 0n,
            'a CreateAsset contract event arrived');
        check(transferEvent !== undefined && JSON.parse(utf8.decode(transferEvent.payload)).Owner === 'Alice',
            'the TransferAsset event carries the transaction id and the new asset');
        console.log('all checks passed');
    } finally {
        gateway.close();
        client.close();
    }
}

main().catch((err) => {
    console.error(err);
    if (err.details) {
        console.error('details:', JSON.stringify(err.details));
    }
    process.exit(1);
});
