#include "scheduler/placement.hpp"

namespace spindle::detail {

namespace {

class FlatPlacement final : public Placement {
public:
    explicit FlatPlacement(std::size_t n) : m_n(n) {}
    std::vector<std::vector<std::size_t>> victim_levels(std::size_t w) const override {
        std::vector<std::size_t> all;
        for (std::size_t i = 0; i < m_n; ++i)
            if (i != w)
                all.push_back(i);
        std::vector<std::vector<std::size_t>> levels;
        if (!all.empty())
            levels.push_back(std::move(all));
        return levels;
    }
    void on_worker_start(std::size_t) const noexcept override {}

private:
    std::size_t m_n;
};

}  // namespace

std::unique_ptr<Placement> make_flat_placement(std::size_t num_workers) {
    return std::make_unique<FlatPlacement>(num_workers);
}

}  // namespace spindle::detail
