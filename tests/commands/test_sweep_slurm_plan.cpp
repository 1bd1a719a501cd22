#include "normtrain/commands/sweep/slurm_plan.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "normtrain/common/error.hpp"
#include "normtrain/common/file_io.hpp"
#include "normtrain/report/run_record.hpp"
#include "test_support.hpp"

namespace normtrain {
namespace {

using testing::read_text;
using testing::TempDir;

std::vector<PlannedTask> two_tasks(const std::filesystem::path& sweep) {
  return {{"ln_seed-1",
           sweep / "ln_seed-1",
           {"--norm", "ln", "--seed", "1", "--threads", "1", "--quiet", "--out",
            (sweep / "ln_seed-1").string(), "--continue"}},
          {"ln_seed-2",
           sweep / "ln_seed-2",
           {"--norm", "ln", "--seed", "2", "--threads", "1", "--quiet", "--out",
            (sweep / "ln_seed-2").string(), "--continue"}}};
}

TEST(SweepSlurmPlan, TheIdComesFromTheContent) {
  const ArrayPlan plan = make_array_plan("/s", "/w", two_tasks("/s"));
  EXPECT_EQ(plan.id.size(), 16u);
  EXPECT_EQ(make_array_plan("/s", "/w", two_tasks("/s")).id, plan.id);
  std::vector<PlannedTask> other = two_tasks("/s");
  other[1].args[3] = "3";
  EXPECT_NE(make_array_plan("/s", "/w", other).id, plan.id);
  EXPECT_NE(make_array_plan("/s", "/elsewhere", two_tasks("/s")).id, plan.id);
  EXPECT_EQ(array_plan_path("/s", plan.id),
            std::filesystem::path("/s/.sweep/plan-" + plan.id + ".json"));
}

TEST(SweepSlurmPlan, AWrittenPlanIsNeverRewritten) {
  TempDir temp;
  const ArrayPlan plan = make_array_plan(temp.path(), temp.path(), two_tasks(temp.path()));
  const std::filesystem::path path = write_array_plan(plan);
  EXPECT_EQ(path, array_plan_path(temp.path(), plan.id));
  const std::string text = read_text(path);
  const auto written = std::filesystem::last_write_time(path);
  // The same plan again (a second submission of the same runs) leaves the file alone, and no
  // temporary file behind.
  EXPECT_EQ(write_array_plan(plan), path);
  EXPECT_EQ(read_text(path), text);
  EXPECT_EQ(std::filesystem::last_write_time(path), written);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path.parent_path()),
                          std::filesystem::directory_iterator()),
            1);
  // Another plan gets another file; the first is untouched.
  std::vector<PlannedTask> tasks = two_tasks(temp.path());
  tasks.pop_back();
  const std::filesystem::path other =
      write_array_plan(make_array_plan(temp.path(), temp.path(), tasks));
  EXPECT_NE(other, path);
  EXPECT_EQ(read_text(path), text);

  const ArrayPlan read = read_array_plan(path);
  EXPECT_EQ(read.id, plan.id);
  ASSERT_EQ(read.tasks.size(), 2u);
  EXPECT_EQ(read.tasks[1].name, "ln_seed-2");
  EXPECT_EQ(read.tasks[1].args, plan.tasks[1].args);
  EXPECT_EQ(read.workdir, temp.path());
}

TEST(SweepSlurmPlan, AChangedPlanIsNotTrusted) {
  TempDir temp;
  const std::filesystem::path path =
      write_array_plan(make_array_plan(temp.path(), temp.path(), two_tasks(temp.path())));
  nlohmann::json json = nlohmann::json::parse(read_text(path));
  json["tasks"][0]["args"][3] = "7";
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  write_file_atomically(path, json.dump(2));
  try {
    read_array_plan(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("was changed after it was written"), std::string::npos)
        << error.what();
  }
}

TEST(SweepSlurmPlan, ATaskChecksItsFolderFirst) {
  TempDir temp;
  const std::vector<PlannedTask> tasks = two_tasks(temp.path());
  const std::filesystem::path path =
      write_array_plan(make_array_plan(temp.path(), temp.path(), tasks));
  ArrayTask task = prepare_array_task(path, 1);
  EXPECT_EQ(task.task.name, "ln_seed-2");
  EXPECT_FALSE(task.exit_status);
  EXPECT_EQ(task.decision.rfind("start: ", 0), 0u) << task.decision;

  // The folder holds the run, complete: nothing to do.
  RunRecord record;
  record.config.norm = NormKind::kLayer;
  record.config.seed = 2;
  record.config.epochs = 20;
  record.status = "completed";
  record.epochs_completed = 20;
  std::filesystem::create_directories(tasks[1].dir);
  write_file_atomically(tasks[1].dir / "run.json", to_json_text(record));
  task = prepare_array_task(path, 1);
  EXPECT_EQ(task.exit_status, 0);
  EXPECT_EQ(task.decision.rfind("skip: ", 0), 0u) << task.decision;

  // Another run there: refused, as --continue refuses it.
  record.config.lr = 0.5;
  write_file_atomically(tasks[1].dir / "run.json", to_json_text(record));
  task = prepare_array_task(path, 1);
  EXPECT_EQ(task.exit_status, 2);
  EXPECT_NE(task.decision.find("--lr 0.5 (saved) vs 0.01"), std::string::npos) << task.decision;

  EXPECT_THROW(prepare_array_task(path, 2), Error);
}

TEST(SweepSlurmPlan, SweepJsonHoldsTheGridAndTheRuns) {
  const nlohmann::json json =
      nlohmann::json::parse(sweep_json_text({"--norm", "ln", "--seed", "1,2"}, two_tasks("/s")));
  EXPECT_EQ(json.at("grid").size(), 4u);
  EXPECT_EQ(json.at("runs").at(1).at("name"), "ln_seed-2");
  EXPECT_EQ(json.at("runs").at(1).at("args").at(3), "2");
  EXPECT_EQ(json.at("id").get<std::string>().size(), 16u);
}

}  // namespace
}  // namespace normtrain
