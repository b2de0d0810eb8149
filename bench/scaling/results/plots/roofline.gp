set terminal pngcairo size 960,600 noenhanced font "sans,11"
set output "roofline.png"
set grid
set key top left box opaque
set title "Achieved GFLOP/s per phase (analytic flops, strong n = 400000) against the measured DGEMM rate"
set ylabel "GFLOP/s"
set logscale y 10
set yrange [*:351.396]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
plot "roofline.dat" using 2:xtic(1) title columnheader(2), "" using 3 title columnheader(3), 59.6768 with lines lw 2 dt 2 lc "red" title "DGEMM 1 core 59.7 GFLOP/s", 117.132 with lines lw 2 dt 4 lc "dark-red" title "DGEMM all cores 117.1 GFLOP/s"
