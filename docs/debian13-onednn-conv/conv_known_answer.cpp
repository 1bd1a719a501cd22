// Plain oneDNN, without PyTorch: one direct f32 convolution, forward and backward-data, with
// the memory formats oneDNN chooses ("any"), against a float64 loop. Usage: conv_known_answer N IC
// OC H
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dnnl.hpp>
#include <random>
#include <vector>
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static memory to(memory m, const memory::desc& md, engine& eng, stream& s) {
  if (m.get_desc() == md) return m;
  memory out(md, eng);
  reorder(m, out).execute(s, m, out);
  return out;
}

int main(int argc, char** argv) {
  const int N = atoi(argv[1]), IC = atoi(argv[2]), OC = atoi(argv[3]), H = atoi(argv[4]), K = 3,
            OH = H - K + 1;
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  std::vector<float> x(N * IC * H * H), w(OC * IC * K * K), dy(N * OC * OH * OH);
  for (auto* v : {&x, &w, &dy})
    for (float& f : *v) f = normal(gen);
  memory::dims xd = {N, IC, H, H}, wd = {OC, IC, K, K}, yd = {N, OC, OH, OH};
  memory ux({xd, dt::f32, tag::nchw}, eng, x.data()), uw({wd, dt::f32, tag::oihw}, eng, w.data());
  memory udy({yd, dt::f32, tag::nchw}, eng, dy.data());
  auto any = [](const memory::dims& d) { return memory::desc(d, dt::f32, tag::any); };
  convolution_forward::primitive_desc fwd(eng, prop_kind::forward_training,
                                          algorithm::convolution_direct, any(xd), any(wd), any(yd),
                                          {1, 1}, {0, 0}, {0, 0});
  std::printf("forward impl %s\n", fwd.impl_info_str());
  memory y(fwd.dst_desc(), eng);
  convolution_forward(fwd).execute(s, {{DNNL_ARG_SRC, to(ux, fwd.src_desc(), eng, s)},
                                       {DNNL_ARG_WEIGHTS, to(uw, fwd.weights_desc(), eng, s)},
                                       {DNNL_ARG_DST, y}});
  std::vector<float> yv(N * OC * OH * OH);
  memory uy({yd, dt::f32, tag::nchw}, eng, yv.data());
  reorder(y, uy).execute(s, y, uy);
  convolution_backward_data::primitive_desc bwd(eng, algorithm::convolution_direct, any(xd),
                                                any(wd), any(yd), {1, 1}, {0, 0}, {0, 0}, fwd);
  std::printf("backward-data impl %s\n", bwd.impl_info_str());
  memory dx(bwd.diff_src_desc(), eng);
  convolution_backward_data(bwd).execute(s,
                                         {{DNNL_ARG_DIFF_DST, to(udy, bwd.diff_dst_desc(), eng, s)},
                                          {DNNL_ARG_WEIGHTS, to(uw, bwd.weights_desc(), eng, s)},
                                          {DNNL_ARG_DIFF_SRC, dx}});
  std::vector<float> dxv(N * IC * H * H);
  memory udx({xd, dt::f32, tag::nchw}, eng, dxv.data());
  reorder(dx, udx).execute(s, dx, udx);
  s.wait();
  double fe = 0, fm = 0, be = 0, bm = 0;
  std::vector<double> dxr(dxv.size(), 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o)
      for (int i = 0; i < OH; ++i)
        for (int j = 0; j < OH; ++j) {
          double acc = 0;
          for (int c = 0; c < IC; ++c)
            for (int p = 0; p < K; ++p)
              for (int q = 0; q < K; ++q) {
                const double wv = w[((o * IC + c) * K + p) * K + q];
                acc += wv * x[((n * IC + c) * H + i + p) * H + j + q];
                dxr[((n * IC + c) * H + i + p) * H + j + q] +=
                    wv * dy[((n * OC + o) * OH + i) * OH + j];
              }
          const double got = yv[((n * OC + o) * OH + i) * OH + j];
          fe = std::fmax(fe, std::fabs(got - acc));
          fm = std::fmax(fm, std::fabs(acc));
          if (!std::isfinite(got)) fe = INFINITY;
        }
  for (size_t k = 0; k < dxr.size(); ++k) {
    be = std::fmax(be, std::fabs(dxv[k] - dxr[k]));
    bm = std::fmax(bm, std::fabs(dxr[k]));
    if (!std::isfinite(dxv[k])) be = INFINITY;
  }
  std::printf(
      "mb%d ic%d oc%d %dx%d: forward max error %.3g of %.3g%s; backward-data max error %.3g of "
      "%.3g%s\n",
      N, IC, OC, H, H, fe, fm, fe > 1e-3 * fm ? " WRONG" : " ok", be, bm,
      be > 1e-3 * bm ? " WRONG" : " ok");
  return (fe > 1e-3 * fm || be > 1e-3 * bm) ? 1 : 0;
}
