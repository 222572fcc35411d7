/* Lets oneMKL, linked into libtorch_cpu.so, use its AVX2 and AVX-512 kernels on non-Intel x86-64 processors.
 *
 * Why: oneMKL picks a code path per CPU, but first asks mkl_serv_intel_cpu_true() whether the processor
 * is an Intel one; on any other (an AMD EPYC here) the answer is 0 and every BLAS call takes its generic
 * path, whatever instructions the processor has. libtorch 2.10 links oneMKL 2024.0 statically; none of
 * MKL_DEBUG_CPU_TYPE, MKL_ENABLE_INSTRUCTIONS and MKL_CBWR lifts that there (measured). On the
 * reference machine the generic path multiplies 1024 x 1024 float32 matrices at about 90 GFLOP/s on one
 * thread, the AVX-512 path at about 200.
 *
 * How: libtorch_cpu.so exports that function and calls it through its PLT, so the dynamic loader binds
 * the call to the first definition in the process's global scope. PaperLab.Shared loads this library
 * with RTLD_GLOBAL before libtorch (shared/PaperLab.Shared/Torch/TorchRuntime.cs), and this definition
 * wins. oneMKL then chooses among its kernels by the CPUID feature bits, as it does on Intel processors.
 * It changes nothing on an Intel processor, where the real function answers 1 as well.
 *
 * Built by Directory.Build.targets with the system C compiler into each output folder; without a C
 * compiler the build says so and MKL keeps its generic path. PAPERLAB_MKL=generic skips loading it.
 * MatrixProductTests checks the products against float64 on this path. */
int mkl_serv_intel_cpu_true(void) { return 1; }
