'use strict';

// Names shared by the create and read workloads: both rounds must agree on
// which asset ids exist without talking to each other, so an id is a pure
// function of the run, the worker that created it and its sequence number.

/**
 * The prefix of every asset id in this run. run.sh sets CHORUS_CALIPER_RUN
 * to a fresh value for each launch (workers inherit the manager's
 * environment), so a network can be benchmarked again without
 * "the asset ... already exists" failures.
 * @param {object} args the round's workload arguments
 * @returns {string} the prefix
 */
function runPrefix(args) {
    const run = process.env.CHORUS_CALIPER_RUN || 'caliper';
    return `${args.idPrefix || 'bench'}_${run}`;
}

/**
 * The id of the n-th asset (from 0) that a worker creates.
 * @param {string} prefix from runPrefix
 * @param {number} workerIndex the creating worker's index
 * @param {number} n the sequence number within that worker
 * @returns {string} the asset id
 */
function assetId(prefix, workerIndex, n) {
    return `${prefix}_w${workerIndex}_${n}`;
}

/**
 * The invoker of a worker's transactions: workers take the listed
 * organizations in turn, so every organization's Gateway peer is driven.
 * @param {object} args the round's workload arguments
 * @param {number} workerIndex the worker's index
 * @returns {{invokerMspId: (string|undefined), invokerIdentity: string}} invoker fields of a Caliper request
 */
function invoker(args, workerIndex) {
    const orgs = args.invokerOrgs || [];
    return {
        invokerMspId: orgs.length > 0 ? orgs[workerIndex % orgs.length] : undefined,
        invokerIdentity: args.invokerIdentity || 'User1',
    };
}

module.exports = { runPrefix, assetId, invoker };
