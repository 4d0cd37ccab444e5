package contract

// ResetRegistered forgets the registered contract, so that tests of
// Register can run more than once in one process.
func ResetRegistered() { registered = nil }
