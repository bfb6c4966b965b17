// mimalloc: the token endpoint allocates many small strings per request, and glibc's malloc showed as
// 9% of its CPU time under load (perf, benches/load/run.sh); mimalloc roughly halves that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tongban::cli::main()
}
