package storetest

// transactionTests are the conformance tests of this part of the store.
func transactionTests() []test { return nil }
