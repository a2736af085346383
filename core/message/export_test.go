package message

// ReferenceLike makes a bus send like the reference (for benchmarks in
// the external test package).
var ReferenceLike = referenceLike
