#include "normtrain/commands/sweep/slurm_submission.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "normtrain/commands/sweep/run_naming.hpp"
#include "normtrain/commands/sweep/slurm_plan.hpp"
#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;
using Words = std::vector<std::string>;

TEST(SweepSlurmSubmission, ReadsWhatSlurmsCommandsSay) {
  EXPECT_EQ(
      max_array_size_from("Licenses = (null)\nMaxArraySize            = 1001\nMaxJobCount = 1\n"),
      1001);
  EXPECT_THROW(max_array_size_from("MaxJobCount = 1\n"), Error);
  const std::string sinfo = "debug*|2\ndebug*|4\nbig|64\nbig|128\n";
  EXPECT_EQ(node_cpus_from(sinfo, ""), 4);
  EXPECT_EQ(node_cpus_from(sinfo, "big"), 128);
  EXPECT_EQ(node_cpus_from(sinfo, "gpu"), std::nullopt);
  const std::vector<QueuedTask> tasks = queued_tasks_from(
      "12_3|3|PENDING|/s/.sweep/plan-a.json\n13|N/A|RUNNING|\n12_0|0|RUNNING|/s p/x|y.json\n");
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].job, "12_3");
  EXPECT_EQ(tasks[0].index, 3);
  EXPECT_EQ(tasks[0].state, "PENDING");
  EXPECT_EQ(tasks[0].plan, std::filesystem::path("/s/.sweep/plan-a.json"));
  EXPECT_EQ(tasks[1].index, -1);
  EXPECT_EQ(tasks[2].plan, std::filesystem::path("/s p/x|y.json"));
}

TEST(SweepSlurmSubmission, GridsLargerThanMaxArraySizeAreSplit) {
  using Parts = std::vector<std::pair<std::size_t, std::size_t>>;
  EXPECT_EQ(array_parts(5, 1001), (Parts{{0, 5}}));
  EXPECT_EQ(array_parts(5, 2), (Parts{{0, 2}, {2, 4}, {4, 5}}));
  EXPECT_EQ(array_parts(4, 2), (Parts{{0, 2}, {2, 4}}));
  EXPECT_EQ(array_parts(0, 2), Parts{});
  EXPECT_THROW(array_parts(3, 0), Error);
}

TEST(SweepSlurmSubmission, TheScriptRunsATaskOfItsPlanAndNoCommandOfItsOwn) {
  SbatchSettings settings;
  settings.program = "/opt/normtrain/bin/normtrain";
  settings.log_pattern = "/runs/my sweep/slurm-%A_%a.log";
  settings.cpus_per_task = 2;
  settings.time_limit = "01:00:00";
  settings.partition = "cpu";
  settings.extra_lines = {"--account=lab"};
  const std::string script = sbatch_script(settings);
  EXPECT_EQ(script.rfind("#!/bin/sh\n", 0), 0u);
  for (const char* line :
       {"#SBATCH --cpus-per-task=2\n", "#SBATCH --time=01:00:00\n", "#SBATCH --partition=cpu\n",
        "#SBATCH --output=\"/runs/my sweep/slurm-%A_%a.log\"\n", "#SBATCH --account=lab\n",
        "exec /opt/normtrain/bin/normtrain sweep --plan \"${1:?"}) {
    EXPECT_NE(script.find(line), std::string::npos) << line << "\n" << script;
  }
  EXPECT_EQ(script.find("eval"), std::string::npos);
}

// Stand-ins for sbatch, squeue, sinfo and scontrol on PATH while it lives: a partition of
// 2-CPU nodes, MaxArraySize 2, squeue answering what queue() says, sbatch recording its
// arguments and answering job ids 100, 101, ...
class FakeSlurm {
 public:
  explicit FakeSlurm(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    tool("sinfo", "echo 'debug*|2'");
    tool("scontrol", "echo 'MaxArraySize            = 2'");
    tool("squeue", "cat '" + (dir_ / "queue").string() + "' 2>/dev/null || true");
    tool("sbatch", "n=$(cat '" + (dir_ / "count").string() +
                       "' 2>/dev/null || echo 100)\n"
                       "echo $((n + 1)) > '" +
                       (dir_ / "count").string() +
                       "'\n"
                       "printf '%s\\n' \"$*\" >> '" +
                       (dir_ / "sbatch.log").string() +
                       "'\n"
                       "echo \"$n;cluster\"");
    const char* path = std::getenv("PATH");
    saved_path_ = path != nullptr ? path : "";
    ::setenv("PATH", (dir_.string() + ":" + saved_path_).c_str(), 1);
  }
  ~FakeSlurm() { ::setenv("PATH", saved_path_.c_str(), 1); }
  FakeSlurm(const FakeSlurm&) = delete;
  FakeSlurm& operator=(const FakeSlurm&) = delete;

  void queue(const std::string& text) { write_file_atomically(dir_ / "queue", text); }
  std::vector<std::string> submissions() const {
    std::vector<std::string> lines;
    std::istringstream in(read_text(dir_ / "sbatch.log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  void tool(const std::string& name, const std::string& body) {
    write_file_atomically(dir_ / name, "#!/bin/sh\n" + body + "\n");
    ::chmod((dir_ / name).c_str(), 0755);
  }
  std::filesystem::path dir_;
  std::string saved_path_;
};

std::vector<SweepRun> planned_runs(const Words& grid, const std::filesystem::path& sweep) {
  std::vector<SweepRun> runs =
      name_runs(expand_grids(parse_grids(grid)), sweep, FolderNames::kVaryingFlags);
  plan_sweep(runs);
  return runs;
}

TEST(SweepSlurmSubmission, SubmitsArraysOfAtMostMaxArraySizeAndNothingQueuedTwice) {
  TempDir temp;
  FakeSlurm slurm(temp.path() / "bin");
  const std::filesystem::path sweep = temp.path() / "sweep";
  SweepRequest request;
  request.slurm = true;
  request.grid = {"--norm", "ln", "--seed", "1,2,3,4,5"};
  std::vector<SweepRun> runs = planned_runs(request.grid, sweep);
  std::ostringstream out;
  EXPECT_EQ(run_slurm_sweep(request, runs, "/bin/normtrain", out), 0);
  const std::vector<std::string> first = slurm.submissions();
  ASSERT_EQ(first.size(), 3u) << out.str();
  EXPECT_NE(first[0].find("--array=0-1 "), std::string::npos) << first[0];
  EXPECT_NE(first[1].find("--array=0-1 "), std::string::npos) << first[1];
  EXPECT_NE(first[2].find("--array=0-0 "), std::string::npos) << first[2];
  EXPECT_NE(first[0].find("--job-name=sweep "), std::string::npos) << first[0];
  EXPECT_NE(out.str().find("submitted job array 100 (2 tasks"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("submitted job array 102 (1 tasks"), std::string::npos) << out.str();
  // Tasks use the nodes' 2 CPUs (the default, 4, is more than they have).
  EXPECT_NE(read_text(sweep / "sweep.sbatch").find("--cpus-per-task=2\n"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(sweep / "sweep.json"));

  // Each array's plan file (its --comment and argument) lists its runs in order.
  std::vector<std::filesystem::path> plans;
  std::vector<std::string> names;
  for (const std::string& line : first) {
    const std::size_t start = line.find("--comment=") + 10;
    plans.emplace_back(line.substr(start, line.find(' ', start) - start));
    for (const PlannedTask& task : read_array_plan(plans.back()).tasks) names.push_back(task.name);
  }
  EXPECT_EQ(names, (Words{"ln_seed-1", "ln_seed-2", "ln_seed-3", "ln_seed-4", "ln_seed-5"}));
  EXPECT_EQ(read_array_plan(plans[0]).tasks[0].args,
            (Words{"--norm", "ln", "--seed", "1", "--threads", "2", "--quiet", "--out",
                   (sweep / "ln_seed-1").string(), "--continue"}));

  // The first array still queued or running: its runs are not submitted again.
  slurm.queue("100_0|0|RUNNING|" + plans[0].string() + "\n100_1|1|PENDING|" + plans[0].string() +
              "\n99_0|0|RUNNING|/elsewhere/.sweep/plan-x.json\n");
  runs = planned_runs(request.grid, sweep);
  out.str("");
  EXPECT_EQ(run_slurm_sweep(request, runs, "/bin/normtrain", out), 0);
  const std::vector<std::string> second = slurm.submissions();
  ASSERT_EQ(second.size(), 5u) << out.str();
  EXPECT_NE(out.str().find("3 to submit, 0 skipped as complete, 0 diverged (not retried), 2 "
                           "already queued or running"),
            std::string::npos)
      << out.str();
  // The same runs as the second and third arrays before: the same plan files.
  EXPECT_NE(second[3].find(plans[1].string()), std::string::npos);
  EXPECT_NE(second[4].find(plans[2].string()), std::string::npos);
}

TEST(SweepSlurmSubmission, TasksNeverAskForMoreCpusThanANodeHas) {
  TempDir temp;
  FakeSlurm slurm(temp.path() / "bin");
  SweepRequest request;
  request.slurm = true;
  request.threads_per_job = 3;
  request.grid = {"--norm", "ln"};
  std::vector<SweepRun> runs = planned_runs(request.grid, temp.path() / "sweep");
  std::ostringstream out;
  try {
    run_slurm_sweep(request, runs, "/bin/normtrain", out);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(error.what()).find("at most 2 CPUs"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "sweep"));
}

TEST(SweepSlurmSubmission, DryRunPrintsTheScriptAndSubmitsNothing) {
  TempDir temp;
  FakeSlurm slurm(temp.path() / "bin");
  SweepRequest request;
  request.slurm = true;
  request.dry_run = true;
  request.jobs = 2;
  request.grid = {"--norm", "ln,gn", "--threads", "1"};
  std::vector<SweepRun> runs = planned_runs(request.grid, temp.path() / "sweep");
  std::ostringstream out;
  EXPECT_EQ(run_slurm_sweep(request, runs, "/bin/normtrain", out), 0);
  EXPECT_NE(out.str().find("#SBATCH --cpus-per-task=1\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("--array=0-1%2"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("task 1: start    gn-8"), std::string::npos) << out.str();
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "sweep"));
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "bin" / "sbatch.log"));
}

}  // namespace
}  // namespace normtrain
