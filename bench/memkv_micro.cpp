// memkv-micro: placeholder, the Google Benchmark micro-benchmarks land in the next commit.
int main() { return 0; }
